// Command imgbuild assembles container images without a registry or a container engine: each
// image is an optional base layer (a root file system tarball) plus one layer of files, with an
// entrypoint, written together into one docker-archive that `ctr images import` reads.
//
//	imgbuild -o images.tar spec.json
//
// spec.json: [{"ref": "registry.k8s.io/pause:3.10.2", "base": "base.tar" (optional),
//
//	"files": [{"src": "bin/pause", "dst": "/pause", "mode": 493}],
//	"entrypoint": ["/pause"], "env": ["PATH=..."]}]
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type file struct {
	Src  string `json:"src"`
	Dst  string `json:"dst"`
	Mode int64  `json:"mode"`
}

type image struct {
	Ref        string   `json:"ref"`
	Base       string   `json:"base,omitempty"`
	Files      []file   `json:"files"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Env        []string `json:"env,omitempty"`
}

// A fixed timestamp keeps layers reproducible: the same inputs give the same digests.
var epoch = time.Unix(0, 0).UTC()

func main() {
	out := flag.String("o", "", "docker-archive to write")
	flag.Parse()
	if *out == "" || flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: imgbuild -o images.tar spec.json")
		os.Exit(2)
	}
	if err := run(*out, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "imgbuild:", err)
		os.Exit(1)
	}
}

func run(out, specPath string) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var specs []image
	if err := json.Unmarshal(raw, &specs); err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	bases := map[string]v1.Layer{}
	refs := map[name.Reference]v1.Image{}
	for _, spec := range specs {
		img, err := build(spec, bases)
		if err != nil {
			return fmt.Errorf("%s: %w", spec.Ref, err)
		}
		ref, err := name.ParseReference(spec.Ref, name.StrictValidation)
		if err != nil {
			return err
		}
		refs[ref] = img
	}
	return tarball.MultiRefWriteToFile(out, refs)
}

func build(spec image, bases map[string]v1.Layer) (v1.Image, error) {
	img := empty.Image
	if spec.Base != "" {
		layer, ok := bases[spec.Base]
		if !ok {
			var err error
			// Shared by every image that names it: one layer, stored once in the archive.
			layer, err = tarball.LayerFromFile(spec.Base)
			if err != nil {
				return nil, err
			}
			bases[spec.Base] = layer
		}
		var err error
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return nil, err
		}
	}
	layer, err := filesLayer(spec.Files)
	if err != nil {
		return nil, err
	}
	if img, err = mutate.AppendLayers(img, layer); err != nil {
		return nil, err
	}
	config, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	config = config.DeepCopy()
	config.OS, config.Architecture, config.Created = "linux", "amd64", v1.Time{Time: epoch}
	config.Config.Entrypoint = spec.Entrypoint
	config.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, spec.Env...)
	return mutate.ConfigFile(img, config)
}

func filesLayer(files []file) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Parent directories first, once per layer, so a layer without a base (static images) has them.
	dirs := map[string]bool{}
	for _, f := range files {
		dst := strings.TrimPrefix(path.Clean(f.Dst), "/")
		var parents []string
		for dir := path.Dir(dst); dir != "." && !dirs[dir]; dir = path.Dir(dir) {
			parents = append([]string{dir}, parents...)
		}
		for _, dir := range parents {
			dirs[dir] = true
			if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
				return nil, err
			}
		}
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return nil, err
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Name: dst, Mode: mode, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}
