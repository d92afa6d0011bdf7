// Package ecompointer holds the API's source of truth, openapi.yaml, for the binary to serve byte
// for byte; everything else lives in gen/, server/, schema/ and cmd/.
package ecompointer

import _ "embed"

// OpenAPI is openapi.yaml exactly as written.
//
//go:embed openapi.yaml
var OpenAPI []byte
