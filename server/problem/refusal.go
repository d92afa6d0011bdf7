package problem

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ecompointer/ecompointer/gen/api"
)

// Error is a refusal: the expected failure a handler returns as its error (`return nil, err`).
// It knows its code and never its status: the strict server's error handler writes it once, by
// Answer, with the status the one table above gives the code, so no handler decides a status a
// second time. (The generated per-status response types would let a handler pick a status the
// table disagrees with.)
type Error struct {
	Code   api.ProblemCode
	Detail string
	// Fields are a validation_failed refusal's bad fields (its errors[]; its detail names them).
	Fields []api.FieldError
	// RetryAfter, when positive, is sent as Retry-After in whole seconds (at least 1).
	RetryAfter time.Duration
	// Extend adds the members particular to the code (lines, currentStatus, ...).
	Extend func(*api.Problem)
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Detail
}

// Refuse is the refusal of code, with detail for the client.
func Refuse(code api.ProblemCode, detail string) *Error {
	return &Error{Code: code, Detail: detail}
}

// RefuseFields refuses a request for rules its handler checks itself, naming each bad field.
func RefuseFields(fields []api.FieldError) *Error {
	return &Error{Code: api.ProblemCodeValidationFailed, Fields: fields}
}

// RefuseField refuses a request for one bad field.
func RefuseField(field, message string) *Error {
	return RefuseFields([]api.FieldError{{Field: field, Message: message}})
}

// Problem is the refusal as the problem sent for it, stamped with the request from ctx.
func (e *Error) Problem(ctx context.Context) api.Problem {
	var p api.Problem
	if e.Code == api.ProblemCodeValidationFailed && len(e.Fields) > 0 {
		p = Invalid(ctx, e.Fields)
	} else {
		p = New(ctx, e.Code, e.Detail)
	}
	if e.Extend != nil {
		e.Extend(&p)
	}
	return p
}

// Answer writes err as its problem when err is (or wraps) a refusal, and reports whether it was;
// any other error is the caller's to answer. A 401 carries its Bearer challenge, a refusal with
// RetryAfter its Retry-After.
func Answer(w http.ResponseWriter, r *http.Request, err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	p := e.Problem(r.Context())
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", Challenge(p.Code))
	}
	if e.RetryAfter > 0 {
		secs := max(int((e.RetryAfter+time.Second-1)/time.Second), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	Write(w, p)
	return true
}

// Challenge is the WWW-Authenticate challenge sent with every 401 (RFC 6750 §3): a request with no
// credentials (or with the wrong ones for a login) is told the scheme; a refused token also why.
func Challenge(code api.ProblemCode) string {
	switch code {
	case api.ProblemCodeUnauthenticated, api.ProblemCodeInvalidCredentials:
		return `Bearer realm="ecompointer"`
	default:
		return `Bearer realm="ecompointer", error="invalid_token"`
	}
}
