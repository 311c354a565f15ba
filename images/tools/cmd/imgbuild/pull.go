package main

import (
	"archive/tar"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// pullUsage is the `imgbuild pull` command line (the official source of images/build.sh).
const pullUsage = `usage: imgbuild pull -o images.tar [-mirror registry=host[:port][/path]]... [-copy ref=/path/in/image=dest]... ref...
  Pulls each ref's linux/amd64 image and writes them all into one OCI archive, each named by its
  own ref for containerd (what ctr images import tags it as). The digests printed are the
  registry's own manifest digests.
  -mirror  fetch a registry's images from a mirror instead: registry.k8s.io=mirror.example/k8s
           fetches registry.k8s.io/pause:3.10 as mirror.example/k8s/pause:3.10 (loopback and
           private addresses are spoken to over plain HTTP, as go-containerregistry does)
  -copy    copy one file out of an image's file system to dest (mode kept), e.g. the etcd
           image's etcdctl; the image is pulled for it whether or not it is also archived`

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

func pullMain(args []string) error {
	flags := flag.NewFlagSet("pull", flag.ContinueOnError)
	out := flags.String("o", "", "archive to write")
	var mirrors, copies multiFlag
	flags.Var(&mirrors, "mirror", "registry=mirror prefix (repeatable)")
	flags.Var(&copies, "copy", "ref=/path/in/image=dest (repeatable)")
	flags.Usage = func() { fmt.Fprintln(os.Stderr, pullUsage) }
	if err := flags.Parse(args); err != nil {
		return errUsage
	}
	if *out == "" || flags.NArg() == 0 {
		flags.Usage()
		return errUsage
	}
	p := puller{mirrors: map[string]string{}, images: map[string]v1.Image{}}
	for _, m := range mirrors {
		registry, prefix, ok := strings.Cut(m, "=")
		if !ok || registry == "" || prefix == "" {
			return fmt.Errorf("-mirror %q: want registry=host[:port][/path]", m)
		}
		p.mirrors[registry] = strings.TrimSuffix(prefix, "/")
	}
	var images []namedImage
	for _, ref := range flags.Args() {
		parsed, img, err := p.pull(ref)
		if err != nil {
			return err
		}
		images = append(images, namedImage{parsed, img})
	}
	for _, c := range copies {
		parts := strings.SplitN(c, "=", 3)
		if len(parts) != 3 || !strings.HasPrefix(parts[1], "/") || parts[2] == "" {
			return fmt.Errorf("-copy %q: want ref=/path/in/image=dest", c)
		}
		_, img, err := p.pull(parts[0])
		if err != nil {
			return err
		}
		if err := copyOut(img, parts[1], parts[2]); err != nil {
			return fmt.Errorf("%s: %w", parts[0], err)
		}
	}
	if err := writeOCIArchive(*out, images); err != nil {
		return err
	}
	return printDigests(images)
}

var errUsage = errors.New("usage")

type puller struct {
	mirrors map[string]string
	images  map[string]v1.Image
}

// pull fetches a ref's linux/amd64 image (from its registry's mirror when one is set) once.
func (p *puller) pull(ref string) (name.Reference, v1.Image, error) {
	parsed, err := name.ParseReference(ref, name.StrictValidation)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	if img, ok := p.images[ref]; ok {
		return parsed, img, nil
	}
	from := parsed
	if prefix, ok := p.mirrors[parsed.Context().RegistryStr()]; ok {
		mirrored := prefix + "/" + parsed.Context().RepositoryStr() + separator(parsed) + parsed.Identifier()
		if from, err = name.ParseReference(mirrored, name.StrictValidation); err != nil {
			return nil, nil, fmt.Errorf("%s through mirror %s: %w", ref, prefix, err)
		}
	}
	img, err := remote.Image(from, remote.WithPlatform(amd64), remote.WithAuthFromKeychain(authn.DefaultKeychain))
	if err != nil {
		return nil, nil, fmt.Errorf("pulling %s from %s: %w", ref, from.Context().RegistryStr(), err)
	}
	config, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref, err)
	}
	if config.OS != amd64.OS || config.Architecture != amd64.Architecture {
		return nil, nil, fmt.Errorf("%s is %s/%s, not linux/amd64", ref, config.OS, config.Architecture)
	}
	p.images[ref] = img
	return parsed, img, nil
}

func separator(ref name.Reference) string {
	if _, ok := ref.(name.Digest); ok {
		return "@"
	}
	return ":"
}

// copyOut writes the regular file at path in the image's flattened file system to dest.
func copyOut(img v1.Image, path, dest string) error {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	want := strings.TrimPrefix(filepath.Clean(path), "/")
	for {
		header, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s is not in the image", path)
		}
		if err != nil {
			return err
		}
		if strings.TrimPrefix(filepath.Clean(header.Name), "/") != want {
			continue
		}
		if header.Typeflag != tar.TypeReg {
			return fmt.Errorf("%s is not a regular file in the image (tar type %q)", path, header.Typeflag)
		}
		tmp := dest + ".tmp"
		f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, os.FileMode(header.Mode).Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(f, tr); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		return os.Rename(tmp, dest)
	}
}
