/**
 * What a scenario script may call without defining it. The runner uploads each script alone
 * (runner.ts, EXECUTE_UPLOADED) and sources no helper library into it, so any other name is a
 * function the script forgot to define, or a program the node does not have.
 */

/** bash's keywords and builtins (busybox sh has a subset; shellcheck's dialect check covers that). */
export const SHELL_BUILTINS: ReadonlySet<string> = new Set(
  (
    '! . : [ [[ alias bg bind break builtin caller cd command compgen complete compopt continue declare dirs ' +
    'disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local ' +
    'logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source suspend ' +
    'test time times trap true type typeset ulimit umask unalias unset wait'
  ).split(' '),
);

/**
 * Programs on the golden node image: Debian 13 minbase plus the packages of
 * images/recipe/rootfs.sh, and what images/build.sh installs (kubeadm, kubelet, kubectl, crictl, etcdctl, etcdutl).
 * Add a name only when the image has it; a script that needs more must bring it along.
 */
export const NODE_COMMANDS: ReadonlySet<string> = new Set(
  [
    // coreutils
    'arch b2sum base32 base64 basename basenc cat chcon chgrp chmod chown chroot cksum comm cp csplit cut ' +
      'date dd df dir dircolors dirname du env expand expr factor fmt fold groups head hostid id install ' +
      'join link ln logname ls md5sum mkdir mkfifo mknod mktemp mv nice nl nohup nproc numfmt od paste ' +
      'pathchk pinky pr printenv ptx readlink realpath rm rmdir runcon seq sha1sum sha224sum sha256sum ' +
      'sha384sum sha512sum shred shuf sleep sort split stat stdbuf stty sum sync tac tail tee timeout touch ' +
      'tr truncate tsort tty uname unexpand uniq unlink users vdir wc who whoami yes',
    // essential packages: grep, sed, findutils, diffutils, gzip, tar, util-linux, mount, procps, hostname
    'grep egrep fgrep sed awk mawk find xargs diff cmp diff3 sdiff gzip gunzip zcat tar hostname ' +
      'fallocate findmnt flock getopt ionice kill logger lsblk mkswap more mount umount nsenter renice ' +
      'runuser setpriv setsid swapon swapoff unshare wall whereis losetup blkid fsck ' +
      'ps pgrep pkill pidof top uptime free vmstat watch sysctl pmap w slabtop pwdx',
    // systemd, users, login, packages, init
    'systemctl journalctl loginctl hostnamectl timedatectl resolvectl networkctl systemd-run systemd-analyze ' +
      'busctl udevadm reboot shutdown poweroff halt su sudo login passwd useradd usermod userdel groupadd ' +
      'getent dpkg dpkg-query apt apt-get apt-cache update-alternatives run-parts ldd ldconfig',
    // container runtime, Kubernetes, CNI, networking
    'containerd ctr runc crictl kubeadm kubelet kubectl etcdctl etcdutl iptables iptables-save iptables-restore ip6tables ' +
      'nft conntrack ethtool socat modprobe lsmod rmmod insmod modinfo ip ss bridge tc ping nc dig nslookup ' +
      'host tcpdump curl',
    // the learner's toolbox and what cloud-init and the CA bundle bring along
    'ps killall fuser pstree less vi vim vim.tiny jq lsof strace zstd openssl python3 cloud-init ssh scp ' +
      'ssh-keygen mkfs.ext4 e2fsck resize2fs tune2fs dumpe2fs bash sh dash',
  ]
    .join(' ')
    .split(' '),
);
