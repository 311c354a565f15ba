// Command guest-init boots a simulated guest (see ../guest.ts) and is that guest's sudo.
//
//	guest-init boot <spec.json>   as host root: the guest's namespaces, then its sshd
//	sudo [-n] [-u root] [--] cmd  inside a guest (setuid, owned by the guest's root): uid 0 there
//
// A guest is a user namespace whose uid 0 is an unprivileged host uid (spec.UidBase), with its own
// mount, PID, UTS and IPC namespaces, pivoted into the guest's root file system. Its root owns only
// the guest's files and its own namespaces: it cannot bind ports below 1024 in the host's network
// namespace, so the listening socket is bound here, on the host side, and handed to sshd the way
// systemd's socket activation does (LISTEN_FDS; Debian's sshd honours it).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

type bind struct {
	Source string `json:"source"`
	Target string `json:"target"`
}

type spec struct {
	Root     string   `json:"root"`
	Hostname string   `json:"hostname"`
	Listen   string   `json:"listen"`
	UidBase  int      `json:"uidBase"`
	UidCount int      `json:"uidCount"`
	Binds    []bind   `json:"binds"`
	Command  []string `json:"command"`
}

func main() {
	if filepath.Base(os.Args[0]) == "sudo" {
		sudo(os.Args[1:])
		return
	}
	if len(os.Args) != 3 {
		fail("usage: guest-init boot|mounts|init <spec.json>")
	}
	s := readSpec(os.Args[2])
	switch os.Args[1] {
	case "boot":
		boot(s, os.Args[2])
	case "mounts":
		mounts(s, os.Args[2])
	case "init":
		initGuest(s)
	default:
		fail("unknown stage " + os.Args[1])
	}
}

func readSpec(path string) spec {
	data, err := os.ReadFile(path)
	check(err, "read spec")
	var s spec
	check(json.Unmarshal(data, &s), "parse spec")
	return s
}

// boot (host root, host namespaces): binds the guest's SSH port and starts the mount stage in a
// private mount namespace.
func boot(s spec, specPath string) {
	listener, err := net.Listen("tcp", s.Listen)
	check(err, "listen on "+s.Listen)
	file, err := listener.(*net.TCPListener).File()
	check(err, "listener file")
	run(exec.Command("/proc/self/exe", "mounts", specPath), file, &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	})
}

// mounts (host root, own mount namespace): the guest root as a mount of its own that allows
// set-user-ID programs and device nodes (its sudo, /dev/null; /run is often nosuid,nodev), the
// host paths sshd needs read-only inside it, then the guest's own namespaces. Mounts made here are
// locked for the guest: its root cannot unmount or remount them.
func mounts(s spec, specPath string) {
	check(syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""), "make / private")
	check(syscall.Mount(s.Root, s.Root, "", syscall.MS_BIND|syscall.MS_REC, ""), "bind guest root")
	check(syscall.Mount("", s.Root, "", syscall.MS_BIND|syscall.MS_REMOUNT, ""), "allow suid in guest root")
	for _, b := range s.Binds {
		target := filepath.Join(s.Root, b.Target)
		check(syscall.Mount(b.Source, target, "", syscall.MS_BIND, ""), "bind "+b.Source)
		flags := uintptr(syscall.MS_BIND | syscall.MS_REMOUNT | syscall.MS_RDONLY | syscall.MS_NOSUID | syscall.MS_NODEV)
		check(syscall.Mount("", target, "", flags, ""), "read-only "+target)
	}
	listener := os.NewFile(3, "listener")
	run(exec.Command("/proc/self/exe", "init", specPath), listener, &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
			syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: s.UidBase, Size: s.UidCount}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: s.UidBase, Size: s.UidCount}},
		GidMappingsEnableSetgroups: true,
		Credential:                 &syscall.Credential{Uid: 0, Gid: 0},
		Pdeathsig:                  syscall.SIGKILL,
	})
}

// initGuest (the guest's root, PID 1 of the guest): its own /proc and terminals, the guest root as
// "/" with the host's tree detached, its host name; then sshd takes PID 1 over (it reaps orphans).
func initGuest(s spec) {
	root := s.Root
	// pivot_root refuses a mount made in a more privileged namespace (locked): bind it once more here.
	check(syscall.Mount(root, root, "", syscall.MS_BIND|syscall.MS_REC, ""), "bind guest root again")
	check(syscall.Mount("proc", filepath.Join(root, "proc"), "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""), "mount proc")
	check(syscall.Mount("devpts", filepath.Join(root, "dev/pts"), "devpts", syscall.MS_NOSUID|syscall.MS_NOEXEC,
		"newinstance,ptmxmode=0666,mode=0620"), "mount devpts")
	check(syscall.Chdir(root), "chdir guest root")
	check(syscall.PivotRoot(".", "."), "pivot_root")
	check(syscall.Unmount(".", syscall.MNT_DETACH), "detach host tree")
	check(syscall.Chdir("/"), "chdir /")
	check(syscall.Sethostname([]byte(s.Hostname)), "hostname")
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LISTEN_FDS=1", "LISTEN_PID=1", "LISTEN_FDNAMES=ssh"}
	check(syscall.Exec(s.Command[0], s.Command, env), "exec "+s.Command[0])
}

func run(cmd *exec.Cmd, listener *os.File, attr *syscall.SysProcAttr) {
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{listener}
	cmd.SysProcAttr = attr
	if err := cmd.Run(); err != nil {
		if exit, ok := err.(*exec.ExitError); ok {
			os.Exit(exit.ExitCode())
		}
		fail(err.Error())
	}
}

// sudo runs a command as the guest's root for users cloud-init gave a passwordless rule
// (`<user> ALL=(ALL) NOPASSWD:ALL` in /etc/sudoers.d, as cloud-init's users module writes it),
// and refuses everyone else, as sudo -n would. It knows the options breakfix and scenarios use.
func sudo(args []string) {
	shell, login := false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		opt := args[0]
		args = args[1:]
		switch opt {
		case "--":
			goto parsed
		case "-n", "-E", "-H", "-S", "-k", "--non-interactive", "--preserve-env":
		case "-s", "--shell":
			shell = true
		case "-i", "--login":
			login = true
		case "-u", "--user":
			if len(args) == 0 || (args[0] != "root" && args[0] != "#0") {
				fail("sudo: this guest's sudo runs commands as root only")
			}
			args = args[1:]
		default:
			fail("sudo: option " + opt + " is not supported in a simulated guest")
		}
	}
parsed:
	user := callerName()
	if os.Getuid() != 0 && !mayRunAsRoot(user) {
		fmt.Fprintf(os.Stderr, "sudo: a password is required\n")
		os.Exit(1)
	}
	check(syscall.Setgroups([]int{0}), "sudo: setgroups")
	check(syscall.Setresgid(0, 0, 0), "sudo: setgid")
	check(syscall.Setresuid(0, 0, 0), "sudo: setuid")
	const securePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	check(os.Setenv("PATH", securePath), "sudo: PATH")
	env := []string{"PATH=" + securePath, "HOME=/root",
		"USER=root", "LOGNAME=root", "SHELL=/bin/sh", "SUDO_USER=" + user,
		fmt.Sprintf("SUDO_UID=%d", os.Getuid()), fmt.Sprintf("SUDO_GID=%d", os.Getgid())}
	if term := os.Getenv("TERM"); term != "" {
		env = append(env, "TERM="+term)
	}
	if len(args) == 0 || shell || login {
		if len(args) == 0 && !shell && !login {
			fail("usage: sudo [-n] [-u root] command [args...]")
		}
		argv := []string{"/bin/sh"}
		if login {
			argv[0] = "-sh"
			check(os.Chdir("/root"), "sudo: cd /root")
		}
		if len(args) > 0 {
			argv = append(argv, "-c", strings.Join(args, " "))
		}
		check(syscall.Exec("/bin/sh", argv, env), "sudo: exec /bin/sh")
	}
	path := args[0]
	if !strings.Contains(path, "/") {
		found, err := exec.LookPath(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sudo: %s: command not found\n", path)
			os.Exit(1)
		}
		path = found
	}
	check(syscall.Exec(path, args, env), "sudo: exec "+path)
}

func callerName() string {
	uid := fmt.Sprint(os.Getuid())
	file, err := os.Open("/etc/passwd")
	check(err, "sudo: /etc/passwd")
	defer file.Close()
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.Split(scanner.Text(), ":")
		if len(fields) > 2 && fields[2] == uid {
			return fields[0]
		}
	}
	fail("sudo: you do not exist in the passwd database")
	return ""
}

func mayRunAsRoot(user string) bool {
	files, _ := filepath.Glob("/etc/sudoers.d/*")
	for _, path := range files {
		info, err := os.Stat(path)
		if err != nil || info.Mode()&0o022 != 0 || info.Sys().(*syscall.Stat_t).Uid != 0 {
			continue // sudo ignores rules anyone but root could have written
		}
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Join(strings.Fields(line), " ") == user+" ALL=(ALL) NOPASSWD:ALL" {
				return true
			}
		}
	}
	return false
}

func check(err error, what string) {
	if err != nil {
		fail(what + ": " + err.Error())
	}
}

func fail(message string) {
	if !strings.HasPrefix(message, "sudo") {
		message = "guest-init: " + message
	}
	fmt.Fprintln(os.Stderr, message)
	os.Exit(1)
}
