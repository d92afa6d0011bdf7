package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's fixed facts; check holds an image to them.
const (
	binaryPath = "/usr/local/bin/ecompointer"
	// uid and gid 65532, "nonroot" as in distroless and Chainguard images: not root, and no user
	// of the host's (a host uid collision would share file access).
	user     = "65532:65532"
	caPath   = "/etc/ssl/certs/ca-certificates.crt"
	repoName = "ecompointer"
)

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	binary := fs.String("binary", "", "the static ecompointer binary (linux)")
	version := fs.String("version", "devel", "the image's version (tag and label)")
	commit := fs.String("commit", "unknown", "the commit it was built from (label)")
	arch := fs.String("arch", "amd64", "the binary's GOARCH")
	layoutDir := fs.String("layout", "", "write an OCI image layout here (podman, skopeo, crane, containerd)")
	tarballPath := fs.String("tarball", "", "write a `docker load`-able tarball here")
	caCerts := fs.String("ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle to include (for sslmode=verify-full); empty: none")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *layoutDir == "" {
		return errors.New("build needs --binary and --layout")
	}
	bin, err := os.ReadFile(*binary)
	if err != nil {
		return err
	}
	var ca []byte
	if *caCerts != "" {
		if ca, err = os.ReadFile(*caCerts); err != nil {
			return fmt.Errorf("CA certificates: %w", err)
		}
	}
	// Reproducible: every file dated at the commit's time when given, else the epoch.
	mtime := time.Unix(0, 0).UTC()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil {
			mtime = time.Unix(sec, 0).UTC()
		}
	}
	layerTar, err := rootfs(bin, ca, mtime)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created: v1.Time{Time: mtime}, CreatedBy: "deploy/image build", Comment: "ecompointer " + *version,
	}})
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = *arch, "linux", v1.Time{Time: mtime}
	cf.Config = v1.Config{
		User:       user,
		Entrypoint: []string{binaryPath},
		Cmd:        []string{"serve"},
		WorkingDir: "/",
		Env: []string{
			"APP_ENV=production", "LOG_FORMAT=json", "PORT=3000",
			"SSL_CERT_FILE=" + caPath,
		},
		ExposedPorts: map[string]struct{}{"3000/tcp": {}},
		Labels: map[string]string{
			"org.opencontainers.image.title":    "ecompointer",
			"org.opencontainers.image.version":  *version,
			"org.opencontainers.image.revision": *commit,
			"org.opencontainers.image.source":   "https://github.com/ecompointer/ecompointer",
			"org.opencontainers.image.licenses": "MIT",
		},
		StopSignal: "SIGTERM",
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}

	if err := os.RemoveAll(*layoutDir); err != nil {
		return err
	}
	p, err := layout.Write(*layoutDir, empty.Index)
	if err != nil {
		return err
	}
	ref := repoName + ":" + tagOf(*version)
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref})); err != nil {
		return err
	}
	if *tarballPath != "" {
		tag, err := name.NewTag(ref)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(*tarballPath, tag, img); err != nil {
			return err
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	size, _ := layer.Size()
	fmt.Printf("image %s %s (layer %.1f MiB) in %s\n", ref, digest, float64(size)/(1<<20), *layoutDir)
	return nil
}

// tagOf makes a version a valid tag (a `+dirty` build metadata suffix is not).
func tagOf(version string) string {
	out := []byte(version)
	for i, c := range out {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			out[i] = '-'
		}
	}
	if len(out) == 0 || len(out) > 128 {
		return "latest"
	}
	return string(out)
}

// rootfs is the image's one layer: the binary, the user it runs as, /tmp, the CA bundle.
func rootfs(bin, ca []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(path string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: path, Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(path string, mode int64, body []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: path, Mode: mode, Size: int64(len(body)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(body)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc/", 0o755) },
		func() error {
			return file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
		},
		func() error { return file("etc/group", 0o644, []byte("root:x:0:\nnonroot:x:65532:\n")) },
		func() error { return dir("home/", 0o755) },
		func() error {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "home/nonroot/", Mode: 0o700, Uid: 65532, Gid: 65532, ModTime: mtime, Format: tar.FormatPAX})
		},
		func() error { return dir("tmp/", 0o1777) },
		func() error { return dir("usr/", 0o755) },
		func() error { return dir("usr/local/", 0o755) },
		func() error { return dir("usr/local/bin/", 0o755) },
		func() error { return file(binaryPath[1:], 0o755, bin) },
	}
	if ca != nil {
		steps = append(steps,
			func() error { return dir("etc/ssl/", 0o755) },
			func() error { return dir("etc/ssl/certs/", 0o755) },
			func() error { return file(caPath[1:], 0o644, ca) },
		)
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
