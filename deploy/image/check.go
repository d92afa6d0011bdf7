package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// check holds the image in an OCI layout to what build promises: a non-root numeric user, the
// entrypoint, a static binary that runs `version` from the extracted filesystem and answers the
// expected version, with the migrations and Swagger UI inside it.
func check(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	layoutDir := fs.String("layout", "", "the OCI image layout to check")
	version := fs.String("version", "", "the version `ecompointer version` must print")
	if err := fs.Parse(args); err != nil {
		return err
	}
	idx, err := layout.ImageIndexFromPath(*layoutDir)
	if err != nil {
		return err
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	if len(manifest.Manifests) != 1 {
		return fmt.Errorf("the layout holds %d images, want 1", len(manifest.Manifests))
	}
	img, err := idx.Image(manifest.Manifests[0].Digest)
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	var problems []string
	fail := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	if cf.Config.User != user {
		fail("user is %q, want %q (non-root)", cf.Config.User, user)
	}
	if uid, _, _ := strings.Cut(cf.Config.User, ":"); uid == "" || uid == "0" || uid == "root" {
		fail("runs as root")
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{binaryPath}) || !slices.Equal(cf.Config.Cmd, []string{"serve"}) {
		fail("entrypoint %q cmd %q, want [%s] [serve]", cf.Config.Entrypoint, cf.Config.Cmd, binaryPath)
	}
	if cf.OS != "linux" {
		fail("os %q", cf.OS)
	}
	if *version != "" && cf.Config.Labels["org.opencontainers.image.version"] != *version {
		fail("version label %q, want %q", cf.Config.Labels["org.opencontainers.image.version"], *version)
	}

	root, err := os.MkdirTemp("", "ecompointer-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(root) }()
	files, err := extract(mutate.Extract(img), root)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	bin := filepath.Join(root, binaryPath)
	if err := staticELF(bin); err != nil {
		fail("%v", err)
	}
	if info, err := os.Stat(filepath.Join(root, "tmp")); err != nil || info.Mode()&os.ModeSticky == 0 {
		fail("/tmp missing or not sticky")
	}
	if passwd, err := os.ReadFile(filepath.Join(root, "etc/passwd")); err != nil || !strings.Contains(string(passwd), ":65532:65532:") {
		fail("/etc/passwd lacks the 65532 user")
	}
	body, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	// Embedded as in every build: the migrations (schema.FS) and Swagger UI (swgui).
	for _, want := range []string{"000001_app_role.up.sql", "swagger-ui-bundle.js"} {
		if !bytes.Contains(body, []byte(want)) {
			fail("the binary lacks %s (embedded files missing)", want)
		}
	}
	// Run it as the image would, from the extracted filesystem, with nothing configured.
	cmd := exec.Command(bin, "version")
	cmd.Dir = root
	cmd.Env = []string{}
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		fail("`ecompointer version` from the image: %v: %s", err, out)
	case *version != "" && !strings.HasPrefix(string(out), "ecompointer "+*version+" "):
		fail("`ecompointer version` printed %q, want version %s", out, *version)
	}
	if len(problems) > 0 {
		return errors.New("image check failed:\n  " + strings.Join(problems, "\n  "))
	}
	digest, _ := img.Digest()
	fmt.Printf("image %s: user %s, entrypoint %v %v, %d files, static binary; `version` from the extracted filesystem: %s",
		digest, cf.Config.User, cf.Config.Entrypoint, cf.Config.Cmd, files, out)
	return nil
}

// extract writes the image's flattened filesystem under root: directories and regular files
// only, every path kept inside root.
func extract(rc io.ReadCloser, root string) (int, error) {
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	files := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return files, err
		}
		target := filepath.Join(root, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return files, err
			}
			if err := os.Chmod(target, h.FileInfo().Mode()); err != nil {
				return files, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return files, err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, h.FileInfo().Mode().Perm())
			if err != nil {
				return files, err
			}
			_, err = io.Copy(f, tr) //nolint:gosec // our own image, checked for size by the build
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return files, err
			}
			files++
		default:
			return files, fmt.Errorf("unexpected entry %s (type %c)", h.Name, h.Typeflag)
		}
	}
}

// staticELF refuses a dynamically linked binary: an empty base has no libc to load.
func staticELF(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("the binary is not an ELF file: %w", err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("the binary is dynamically linked (it has an ELF interpreter); build it with CGO_ENABLED=0")
		}
	}
	return nil
}
