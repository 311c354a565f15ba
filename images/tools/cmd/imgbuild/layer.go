package main

import (
	"archive/tar"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

type file struct {
	Src  string `json:"src"`
	Dst  string `json:"dst"`
	Mode int64  `json:"mode"`
	// Owner of the file and of the parent directories it brings into the layer, as Docker's
	// `ADD --chown` does (a containerDisk's disk is 107:107, KubeVirt's qemu user). Default root.
	UID int `json:"uid,omitempty"`
	GID int `json:"gid,omitempty"`
}

// filesLayer writes one layer holding the files to a gzip'd tarball in dir and returns it as a
// layer of the given media type. The files are streamed, never held in memory: a containerDisk's
// disk is gigabytes. The caller removes the tarball once the archive is written.
func filesLayer(files []file, dir string, mediaType types.MediaType) (v1.Layer, string, error) {
	tmp, err := os.CreateTemp(dir, ".imgbuild-layer-*.tar.gz")
	if err != nil {
		return nil, "", err
	}
	defer tmp.Close()
	// BestSpeed: a disk image is compressed once per build, and most of its blocks are already
	// compressed binaries; the better levels cost minutes for a few percent.
	zw, err := gzip.NewWriterLevel(tmp, gzip.BestSpeed)
	if err != nil {
		return nil, tmp.Name(), err
	}
	tw := tar.NewWriter(zw)
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
			header := &tar.Header{Name: dir + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir, Uid: f.UID, Gid: f.GID}
			if err := tw.WriteHeader(header); err != nil {
				return nil, tmp.Name(), err
			}
		}
		if err := addFile(tw, f, dst); err != nil {
			return nil, tmp.Name(), err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, tmp.Name(), err
	}
	if err := zw.Close(); err != nil {
		return nil, tmp.Name(), err
	}
	if err := tmp.Close(); err != nil {
		return nil, tmp.Name(), err
	}
	layer, err := tarball.LayerFromFile(tmp.Name(), tarball.WithMediaType(mediaType))
	return layer, tmp.Name(), err
}

func addFile(tw *tar.Writer, f file, dst string) error {
	in, err := os.Open(f.Src)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	mode := f.Mode
	if mode == 0 {
		mode = 0o644
	}
	header := &tar.Header{
		Name: dst, Mode: mode, Size: info.Size(), ModTime: epoch, Typeflag: tar.TypeReg, Uid: f.UID, Gid: f.GID,
	}
	if err := tw.WriteHeader(header); err != nil {
		return err
	}
	_, err = io.Copy(tw, in)
	return err
}
