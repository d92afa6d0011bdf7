// Command image builds the ecompointer OCI image without a Docker engine, from the binary `make
// image` builds, and checks an image's contents (make check-image). It is its own module so the
// image library's dependencies stay out of the server's go.mod.
//
// Why not ko: ko starts from a base image it pulls from a registry (or a Docker daemon); this
// image needs none. The binary is static and alone on an empty base with the three files a
// process expects (a passwd entry for its user, a writable /tmp, CA certificates), assembled with
// go-containerregistry, the library ko itself builds images with.
//
//	go run . build --binary B --version V --commit C --layout DIR --tarball FILE [--ca-certs FILE]
//	go run . check --layout DIR --version V
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: image build|check [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "check":
		err = check(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (build, check)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}
