package server

import "github.com/ecompointer/ecompointer/server/kit"

// The shared ETag helpers live in kit; these names keep the handlers not yet moved into a domain
// package reading as before.
var (
	etag     = kit.ETag
	ifMatch  = kit.IfMatch
	location = kit.Location
)
