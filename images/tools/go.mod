// Tools the node-image build runs on the build host: imgbuild (container images without a
// registry) and pause (the pod sandbox image's binary).
module breakfix.dev/images/tools

go 1.26.0

require (
	github.com/google/go-containerregistry v0.22.1
	github.com/klauspost/compress v1.19.2
)

require (
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
