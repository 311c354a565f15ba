// Command imgbuild assembles container images without a registry or a container engine: each
// image is an optional base layer (a root file system tarball) plus one layer of files, with an
// entrypoint, written together into one archive: a docker-archive (what `ctr images import`
// reads, the default) or an OCI image layout tarball (`-format oci-archive`, what skopeo pushes to
// a registry with its digest unchanged). Prints `ref@digest` of every image (the manifest digest).
//
//	imgbuild [-format docker-archive|oci-archive] -o images.tar spec.json
//	imgbuild pull -o images.tar [-mirror registry=prefix]... [-copy ref=/path=dest]... ref...
//
// `pull` is the other way to the same archive: images from their registries (the node image's
// official source), see pull.go.
//
// spec.json: [{"ref": "registry.k8s.io/pause:3.10.2", "base": "base.tar" (optional),
//
//	"files": [{"src": "bin/pause", "dst": "/pause", "mode": 493, "uid": 0, "gid": 0}],
//	"entrypoint": ["/pause"], "env": ["PATH=..."]}]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type image struct {
	Ref        string   `json:"ref"`
	Base       string   `json:"base,omitempty"`
	Files      []file   `json:"files"`
	Entrypoint []string `json:"entrypoint,omitempty"`
	Env        []string `json:"env,omitempty"`
}

// A fixed timestamp keeps layers reproducible: the same inputs give the same digests.
var epoch = time.Unix(0, 0).UTC()

// format is how the archive is laid out and which media types its images use.
type format struct {
	manifest, config, layer types.MediaType
	oci                     bool
}

var formats = map[string]format{
	"docker-archive": {types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, false},
	"oci-archive":    {types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, true},
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "pull" {
		if err := pullMain(os.Args[2:]); err != nil {
			if err != errUsage {
				fmt.Fprintln(os.Stderr, "imgbuild pull:", err)
			}
			os.Exit(map[bool]int{true: 2, false: 1}[err == errUsage])
		}
		return
	}
	out := flag.String("o", "", "archive to write")
	formatName := flag.String("format", "docker-archive", "docker-archive or oci-archive")
	flag.Parse()
	f, ok := formats[*formatName]
	if *out == "" || flag.NArg() != 1 || !ok {
		fmt.Fprintln(os.Stderr, "usage: imgbuild [-format docker-archive|oci-archive] -o images.tar spec.json")
		os.Exit(2)
	}
	if err := run(*out, flag.Arg(0), f); err != nil {
		fmt.Fprintln(os.Stderr, "imgbuild:", err)
		os.Exit(1)
	}
}

func run(out, specPath string, f format) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var specs []image
	if err := json.Unmarshal(raw, &specs); err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	b := builder{format: f, dir: filepath.Dir(out), bases: map[string]v1.Layer{}}
	defer b.removeTemporaries()
	var images []namedImage
	for _, spec := range specs {
		img, err := b.build(spec)
		if err != nil {
			return fmt.Errorf("%s: %w", spec.Ref, err)
		}
		ref, err := name.ParseReference(spec.Ref, name.StrictValidation)
		if err != nil {
			return err
		}
		images = append(images, namedImage{ref, img})
	}
	if f.oci {
		err = writeOCIArchive(out, images)
	} else {
		refs := map[name.Reference]v1.Image{}
		for _, entry := range images {
			refs[entry.ref] = entry.img
		}
		err = tarball.MultiRefWriteToFile(out, refs)
	}
	if err != nil {
		return err
	}
	return printDigests(images)
}

// printDigests prints `ref@digest` of every image (its manifest digest), one per line.
func printDigests(images []namedImage) error {
	for _, entry := range images {
		digest, err := entry.img.Digest()
		if err != nil {
			return err
		}
		fmt.Printf("%s@%s\n", entry.ref.Name(), digest)
	}
	return nil
}

type builder struct {
	format format
	// dir holds the temporary layer tarballs (beside the archive: they can be gigabytes).
	dir       string
	bases     map[string]v1.Layer
	temporary []string
}

func (b *builder) removeTemporaries() {
	for _, path := range b.temporary {
		os.Remove(path)
	}
}

func (b *builder) build(spec image) (v1.Image, error) {
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, b.format.manifest), b.format.config)
	if spec.Base != "" {
		layer, ok := b.bases[spec.Base]
		if !ok {
			var err error
			// Shared by every image that names it: one layer, stored once in the archive.
			layer, err = tarball.LayerFromFile(spec.Base, tarball.WithMediaType(b.format.layer))
			if err != nil {
				return nil, err
			}
			b.bases[spec.Base] = layer
		}
		var err error
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return nil, err
		}
	}
	layer, tmp, err := filesLayer(spec.Files, b.dir, b.format.layer)
	if tmp != "" {
		b.temporary = append(b.temporary, tmp)
	}
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
