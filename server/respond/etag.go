// Package respond is what a handler's answer is made of beyond its body: entity tags and If-Match
// (RFC 9110), Location, and the refusals of a conditional change.
package respond

import (
	"strconv"
	"strings"
)

// ETag is a resource version as a strong entity tag (RFC 9110 §8.8.3).
func ETag(version int64) *string {
	tag := `"` + strconv.FormatInt(version, 10) + `"`
	return &tag
}

// IfMatch reads an If-Match header (RFC 9110 §13.1.1) as the versions a change may apply to. nil
// means no condition: the header is absent, or `*` (any current version). An empty, non-nil slice
// means a condition nothing can meet (weak or foreign tags never match: If-Match compares
// strongly), so the change answers 412.
func IfMatch(header *string) []int64 {
	if header == nil || strings.TrimSpace(*header) == "*" {
		return nil
	}
	versions := []int64{}
	for _, tag := range strings.Split(*header, ",") {
		tag = strings.TrimSpace(tag)
		if len(tag) < 3 || tag[0] != '"' || tag[len(tag)-1] != '"' {
			continue
		}
		// Strong comparison is octet equality (RFC 9110 §8.8.3.2): only the tag ETag issues for a
		// version matches it, so `"+5"` and `"05"` match nothing.
		if v, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 64); err == nil && *ETag(v) == tag {
			versions = append(versions, v)
		}
	}
	return versions
}

// Location is a created resource's URL, for the Location header.
func Location(parts ...string) *string {
	loc := strings.Join(parts, "")
	return &loc
}
