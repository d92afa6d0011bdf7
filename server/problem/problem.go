// Package problem is the API's error vocabulary: every 4xx and 5xx the server writes is an
// RFC 9457 problem built here, from a stable code, so that status, type URI and title never drift
// apart between handlers, middleware and the spec.
package problem

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/server/observe"
)

// TypeBase prefixes every problem type URI.
const TypeBase = "https://ecompointer.dev/problems/"

// ContentType is the media type of every problem body (RFC 9457 §3).
const ContentType = "application/problem+json"

type kind struct {
	status int
	slug   string
	title  string
}

// kinds maps each code of the spec's ProblemCode enum to its status, type and title; a test checks
// that the two lists agree.
var kinds = map[api.ProblemCode]kind{
	api.ProblemCodeValidationFailed:       {http.StatusBadRequest, "validation-error", "Request validation failed"},
	api.ProblemCodeMalformedJson:          {http.StatusBadRequest, "malformed-request", "Malformed request body"},
	api.ProblemCodeUnsupportedMediaType:   {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	api.ProblemCodePayloadTooLarge:        {http.StatusRequestEntityTooLarge, "payload-too-large", "Request body too large"},
	api.ProblemCodeNotFound:               {http.StatusNotFound, "not-found", "Not found"},
	api.ProblemCodeMethodNotAllowed:       {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	api.ProblemCodeUnauthenticated:        {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeInvalidToken:           {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeTokenExpired:           {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeTokenRevoked:           {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeInvalidCredentials:     {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeInvalidRefreshToken:    {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeRefreshTokenReused:     {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeForbidden:              {http.StatusForbidden, "forbidden", "Forbidden"},
	api.ProblemCodeAccountDisabled:        {http.StatusForbidden, "forbidden", "Forbidden"},
	api.ProblemCodeEmailTaken:             {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeLastOwner:              {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeLastAdmin:              {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeSkuTaken:               {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeProductInUse:           {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeBarcodeTaken:           {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeOptionValuesTaken:      {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeOptionsInUse:           {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeVariantRequired:        {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeOptionsRequired:        {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeVariantLimit:           {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeInvitationAccepted:     {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeInviteGone:             {http.StatusGone, "gone", "Gone"},
	api.ProblemCodeInvalidInvite:          {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodePreconditionFailed:     {http.StatusPreconditionFailed, "precondition-failed", "Precondition failed"},
	api.ProblemCodeInvalidCurrentPassword: {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeInvalidRoleChange:      {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeRateLimited:            {http.StatusTooManyRequests, "rate-limited", "Too many requests"},
	api.ProblemCodeAccountThrottled:       {http.StatusTooManyRequests, "rate-limited", "Too many requests"},
	api.ProblemCodeLocationCodeTaken:      {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeLocationInUse:          {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeDeliveryPending:        {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeLocationInactive:       {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeStockChanged:           {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeReservationNotActive:   {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeIdempotencyKeyInFlight: {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeInsufficientStock:      {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeProductUnavailable:     {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeIdempotencyKeyReused:   {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeIdempotencyKeyRequired: {http.StatusBadRequest, "validation-error", "Request validation failed"},
	api.ProblemCodeExternalReferenceTaken: {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeInvalidOrderTransition: {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeCurrencyMismatch:       {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeAmountOverflow:         {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeReservationMismatch:    {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeOverFulfilment:         {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	// Issue 21: amounts, customers, returns and refunds.
	api.ProblemCodeDiscountTooLarge:        {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeOverReturn:              {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeInvalidReturnTransition: {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeRefundExceedsPaid:       {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeCustomerEmailTaken:      {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeCustomerHasOrders:       {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeInternalError:           {http.StatusInternalServerError, "internal-error", "Internal server error"},
	api.ProblemCodeServiceUnavailable:      {http.StatusServiceUnavailable, "service-unavailable", "Service unavailable"},
	api.ProblemCodeDatabaseUnavailable:     {http.StatusServiceUnavailable, "database-unavailable", "Database unavailable"},
	api.ProblemCodeDatabaseTimeout:         {http.StatusServiceUnavailable, "database-timeout", "Database timeout"},
	api.ProblemCodeWriteConflict:           {http.StatusServiceUnavailable, "write-conflict", "Write conflict"},
	api.ProblemCodeBrandBusy:               {http.StatusServiceUnavailable, "brand-busy", "Brand busy"},
	api.ProblemCodeQuantityLimit:           {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodeCorsNotAllowed:          {http.StatusForbidden, "cors-not-allowed", "Cross-origin request not allowed"},
	api.ProblemCodeInvalidApiKey:           {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeApiKeyRevoked:           {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeApiKeyExpired:           {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodeApiKeyNotAccepted:       {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	api.ProblemCodePermissionNotHeld:       {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	// Purchasing (issue 22).
	api.ProblemCodeSupplierCodeTaken:              {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeSupplierArchived:               {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	api.ProblemCodePurchaseOrderNotDraft:          {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeInvalidPurchaseOrderTransition: {http.StatusConflict, "conflict", "Conflict"},
	api.ProblemCodeOverReceipt:                    {http.StatusUnprocessableEntity, "unprocessable", "Unprocessable request"},
	// A COMMIT without an answer that could not be settled: the database is unavailable (503,
	// with Retry-After), under a code of its own, the one 503 that does not promise that nothing
	// was written. Never a 500 (issue 23: a failover answers 503), nor a 504 (which gateways and
	// retry policies resend as safe).
	api.ProblemCodeOutcomeUnknown: {http.StatusServiceUnavailable, "outcome-unknown", "Outcome unknown"},
}

// Status is the HTTP status of a code.
func Status(code api.ProblemCode) int {
	if k, ok := kinds[code]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// Known reports whether code has an entry in the vocabulary.
func Known(code api.ProblemCode) bool {
	_, ok := kinds[code]
	return ok
}

// New builds the problem for code, stamped with the request's id and path from ctx.
func New(ctx context.Context, code api.ProblemCode, detail string) api.Problem {
	k, ok := kinds[code]
	if !ok {
		code, k = api.ProblemCodeInternalError, kinds[api.ProblemCodeInternalError]
	}
	p := api.Problem{
		Type:   TypeBase + k.slug,
		Title:  k.title,
		Status: k.status,
		Code:   code,
	}
	if detail != "" {
		p.Detail = &detail
	}
	if info, ok := ctx.Value(requestKey{}).(*Request); ok {
		p.RequestId = info.ID
		if info.Path != "" {
			path := info.Path
			p.Instance = &path
		}
	}
	return p
}

// Invalid builds a validation problem listing each bad field; the detail names them all
// ("email: must be a valid email address; name: is required").
func Invalid(ctx context.Context, fields []api.FieldError) api.Problem {
	total := len(fields)
	if total > MaxFieldErrors {
		// A thousand bad lines made 3,000 errors (443 KB): the first MaxFieldErrors say enough,
		// errorCount says how many there are.
		fields = fields[:MaxFieldErrors:MaxFieldErrors]
	}
	details := make([]string, 0, len(fields)+1)
	for _, f := range fields {
		details = append(details, f.Field+": "+f.Message)
	}
	if total > len(fields) {
		details = append(details, fmt.Sprintf("and %d more", total-len(fields)))
	}
	p := New(ctx, api.ProblemCodeValidationFailed, strings.Join(details, "; "))
	if total > 0 {
		p.Errors = &fields
		count := int32(min(total, math.MaxInt32)) //nolint:gosec // bounded just above
		p.ErrorCount = &count
	}
	return p
}

// MaxFieldErrors is the most entries a problem's `errors` lists (the spec's maxItems).
const MaxFieldErrors = 100

// Write sends p as the response. Headers already set on w (X-Request-Id, Retry-After,
// WWW-Authenticate) are kept.
func Write(w http.ResponseWriter, p api.Problem) {
	body, err := json.Marshal(p)
	if err != nil { // a Problem always marshals; keep the status honest anyway
		body = []byte(`{"type":"` + TypeBase + `internal-error","title":"Internal server error","status":500,"code":"internal_error","requestId":""}`)
	}
	h := w.Header()
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Del("ETag")
	h.Del("Last-Modified")
	if p.Status >= http.StatusInternalServerError {
		// Every 5xx passes here: the alert rules watch the database's states by code.
		observe.ServerError(string(p.Code))
	}
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(body, '\n'))
}

// WriteCode is New followed by Write.
func WriteCode(w http.ResponseWriter, r *http.Request, code api.ProblemCode, detail string) {
	Write(w, New(r.Context(), code, detail))
}

// Request is the one request-scoped record of the request itself: its id and path, which every
// problem carries (set first, by the request-id middleware), and the client's address and agent,
// which audit events, sessions and the login throttle record (added by the contract middleware).
type Request struct {
	ID        string
	Path      string
	IP        string
	UserAgent string
}

type requestKey struct{}

// WithRequest stores the request's record, for New and for whatever records the client.
func WithRequest(ctx context.Context, req *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, req)
}

// RequestFrom returns what WithRequest stored, or an empty Request (outside a request). Treat it
// as read-only: to add to it, store a copy.
func RequestFrom(ctx context.Context) *Request {
	if info, ok := ctx.Value(requestKey{}).(*Request); ok {
		return info
	}
	return &Request{}
}

// Count is the number of codes in the vocabulary.
func Count() int { return len(kinds) }
