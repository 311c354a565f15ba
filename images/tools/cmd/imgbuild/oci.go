package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// namedImage is one image of an archive with the reference it is known by.
type namedImage struct {
	ref name.Reference
	img v1.Image
}

// writeOCIArchive writes the images as one OCI image layout in a tarball (an `oci-archive`:
// https://github.com/opencontainers/image-spec/blob/main/image-layout.md), which skopeo copies to a
// registry with its manifest unchanged, so the digest printed here is the digest the registry
// serves. Each index entry names its image for containerd (`io.containerd.image.name`, what `ctr
// images import` tags it as) and by tag (`org.opencontainers.image.ref.name`, what `skopeo
// oci-archive:file:tag` selects). Blobs shared by several images are stored once.
func writeOCIArchive(out string, images []namedImage) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := writeEntry(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
	}
	written := map[v1.Hash]bool{}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, entry := range images {
		descriptor, err := writeImageBlobs(tw, entry.img, written)
		if err != nil {
			return fmt.Errorf("%s: %w", entry.ref, err)
		}
		descriptor.Annotations = map[string]string{
			"io.containerd.image.name":          entry.ref.Name(),
			"org.opencontainers.image.ref.name": entry.ref.Identifier(),
		}
		index.Manifests = append(index.Manifests, descriptor)
	}
	raw, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := writeEntry(tw, "index.json", raw); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// writeImageBlobs writes an image's layers, config and manifest as blobs and returns the
// manifest's descriptor.
func writeImageBlobs(tw *tar.Writer, img v1.Image, written map[v1.Hash]bool) (v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, layer := range layers {
		digest, err := layer.Digest()
		if err != nil {
			return v1.Descriptor{}, err
		}
		if written[digest] {
			continue
		}
		size, err := layer.Size()
		if err != nil {
			return v1.Descriptor{}, err
		}
		blob, err := layer.Compressed()
		if err != nil {
			return v1.Descriptor{}, err
		}
		err = writeBlob(tw, digest, size, blob)
		blob.Close()
		if err != nil {
			return v1.Descriptor{}, err
		}
		written[digest] = true
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, err
	}
	configDigest, err := img.ConfigName()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := writeBlob(tw, configDigest, int64(len(config)), bytes.NewReader(config)); err != nil {
		return v1.Descriptor{}, err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	digest, size, err := v1.SHA256(bytes.NewReader(manifest))
	if err != nil {
		return v1.Descriptor{}, err
	}
	if err := writeBlob(tw, digest, size, bytes.NewReader(manifest)); err != nil {
		return v1.Descriptor{}, err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mediaType, Digest: digest, Size: size}, nil
}

func writeBlob(tw *tar.Writer, digest v1.Hash, size int64, r io.Reader) error {
	header := &tar.Header{Name: "blobs/sha256/" + digest.Hex, Mode: 0o644, Size: size, ModTime: epoch, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(header); err != nil {
		return err
	}
	n, err := io.Copy(tw, r)
	if err == nil && n != size {
		err = fmt.Errorf("blob %s: wrote %d bytes of %d", digest, n, size)
	}
	return err
}

func writeEntry(tw *tar.Writer, path string, data []byte) error {
	header := &tar.Header{Name: path, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(header); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
