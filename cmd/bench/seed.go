package main

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ecompointer/ecompointer/gen/api"
	"github.com/ecompointer/ecompointer/gen/db"
)

// The seed is SQL run in file order, one statement a file, with named arguments (@users, @brands,
// @products, @password_hash): seed/*.sql before the users log in, seed/after-login/*.sql after.
// More data for more scenarios (orders) is one more file.
//
//go:embed seed/*.sql seed/after-login/*.sql
var seedFiles embed.FS

// benchPassword is every seeded user's password: long enough, and not a common one.
const benchPassword = "bench passphrase for load tests"

// Fixture is what the seed made, and what the scenarios' clients draw from.
type Fixture struct {
	// Users are the seeded accounts, user n at n-1.
	Users []User
	// Sessions holds one live session per user, opened by logging the user in through the API.
	Sessions []*Session
	// Brands is the number of brands, bench_uuid(1, 1) to bench_uuid(1, Brands).
	Brands int
	// Products is the number of products in each brand (seed/030_products.sql numbers them).
	Products int
	// Locations is the number of locations in each brand (seed/040_locations.sql numbers them).
	Locations int
	// Stock holds, per brand (from 0), the products the inventory scenarios move, as
	// seed/050_stock_products.sql picked them: product 0 is the hot row, the others (at least 3)
	// have plenty of stock at every location.
	Stock [][]string
	// StockProducts is how many products after the hot one every brand has in Stock.
	StockProducts int
	// movementIDs are a reservation and an order of brand 1 the movements scenarios filter by.
	movementIDs movementIDs
	// skus numbers the products the create scenario adds, unique across all its clients and runs.
	skus atomic.Int64
}

// newFixture puts together what the seed made, and ties each session to its brand's number.
func newFixture(users []User, sessions []*Session, brands, products int) (*Fixture, error) {
	number := make(map[string]int, brands)
	for b := 1; b <= brands; b++ {
		number[benchUUID(benchKindBrand, int64(b))] = b
	}
	for _, s := range sessions {
		if s.brand = number[s.BrandID]; s.brand == 0 {
			return nil, fmt.Errorf("session of user %s: brand %s is not a seeded one", s.UserID, s.BrandID)
		}
	}
	return &Fixture{Users: users, Sessions: sessions, Brands: brands, Products: products}, nil
}

// The stock the seed makes (seed/040_locations.sql to 061_stock_movements.sql).
const (
	// stockLocations is the number of locations in each brand.
	stockLocations = 4
	// stockProducts is the number of products reserve_spread and receipt draw from (fewer when a
	// brand has fewer active products).
	stockProducts = 1000
	// hotStock is the hot row's stock: more than 64 connections hold at once, fewer than 256, so
	// the largest run of reserve_hot runs out and must refuse without overselling.
	hotStock = 100
	// stockOnHand is every other level's stock: more than any run holds.
	stockOnHand = 1000000
)

// loadStock reads the stock products the seed picked (seed/050_stock_products.sql).
func (f *Fixture) loadStock(ctx context.Context, conn *pgx.Conn) error {
	sql, err := adminSQL.ReadFile("admin/stock_products.sql")
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, string(sql))
	if err != nil {
		return err
	}
	f.Stock = make([][]string, f.Brands)
	for rows.Next() {
		var b, i int
		var id string
		if err := rows.Scan(&b, &i, &id); err != nil {
			return err
		}
		if b < 1 || b > f.Brands || i != len(f.Stock[b-1]) {
			return fmt.Errorf("bench_stock_products: unexpected row (%d, %d)", b, i)
		}
		f.Stock[b-1] = append(f.Stock[b-1], id)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f.Locations = stockLocations
	f.StockProducts = stockProducts
	for b, ids := range f.Stock {
		f.StockProducts = min(f.StockProducts, len(ids)-1)
		if len(ids) < 4 {
			return fmt.Errorf("brand %d has %d active products: the inventory scenarios need at least 4 (seed more products)", b+1, len(ids))
		}
	}
	return nil
}

// locationID is the id of location j (from 1) of brand b (seed/040_locations.sql).
func (f *Fixture) locationID(b, j int) string {
	return benchUUID(benchKindLocation, int64(b)+int64(j-1)*int64(f.Brands))
}

// sessionsOf is the sessions of brand b's users.
func (f *Fixture) sessionsOf(b int) []*Session {
	var out []*Session
	for _, s := range f.Sessions {
		if s.brand == b {
			out = append(out, s)
		}
	}
	return out
}

// The kinds of seeded ids, bench_uuid's first argument (seed/000_bench_uuid.sql).
const (
	benchKindBrand    = 1
	benchKindProduct  = 3
	benchKindLocation = 5
)

// benchUUID is bench_uuid(kind, n) of seed/000_bench_uuid.sql: the id the seed gave row n of a
// kind, which clients compute rather than look up.
func benchUUID(kind int, n int64) string {
	return fmt.Sprintf("00000000-0000-7000-8%03x-%012x", kind, n)
}

// productID is the id of product k (from 0) of brand b, as seed/030_products.sql numbers them.
func (f *Fixture) productID(b, k int) string {
	return benchUUID(benchKindProduct, int64(b)+int64(k)*int64(f.Brands))
}

// User is a seeded account.
type User struct {
	Email string
	// login is the body of its POST /auth/login, made once.
	login []byte
}

// Session is a live session and its latest tokens.
type Session struct {
	UserID  string
	BrandID string
	Access  string
	// Refresh is the session's latest refresh token. A refresh client owns the session while it
	// runs (no other client touches it), and replaces this with every rotation.
	Refresh string
	// dead marks a session whose rotation went wrong: its state is unknown, so it is left alone.
	dead bool
	// brand is the number of the session's brand, BrandID = bench_uuid(1, brand).
	brand int
}

// runSeedFiles runs the files of one seed directory in name order.
func runSeedFiles(ctx context.Context, conn *pgx.Conn, dir string, args pgx.NamedArgs) error {
	entries, err := fs.ReadDir(seedFiles, dir)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		sql, err := seedFiles.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, string(sql), args); err != nil {
			return fmt.Errorf("seed %s/%s: %w", dir, e.Name(), err)
		}
	}
	return nil
}

// grantAppRole gives the application role what it may do on the tables the seed added
// (bench_sessions, read by pgbench under that role), with the migrations' own function.
func grantAppRole(ctx context.Context, conn *pgx.Conn, role string) error {
	return db.New(conn).AppRoleEnsure(ctx, role)
}

// loginAll logs every user in through the API, workers at a time, and returns their sessions.
func loginAll(ctx context.Context, baseURL string, users []User, workers int) ([]*Session, error) {
	sessions := make([]*Session, len(users))
	hc := &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers},
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(users) || ctx.Err() != nil {
					return
				}
				s, err := login(ctx, hc, baseURL, users[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("log %s in: %w", users[i].Email, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				sessions[i] = s
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	return sessions, ctx.Err()
}

func login(ctx context.Context, hc *http.Client, baseURL string, u User) (*Session, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/auth/login", bytes.NewReader(u.login))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	var auth api.AuthResponse
	if err := json.Unmarshal(body, &auth); err != nil {
		return nil, err
	}
	if auth.User.BrandId == nil {
		return nil, errors.New("a seeded user has no brand")
	}
	return &Session{UserID: auth.User.Id.String(), BrandID: auth.User.BrandId.String(), Access: auth.AccessToken, Refresh: auth.RefreshToken}, nil
}

// seededUsers names users 1..n as seed/020_users.sql makes them.
func seededUsers(n int) ([]User, error) {
	users := make([]User, n)
	for i := range users {
		email := fmt.Sprintf("bench-%d@example.com", i+1)
		body, err := json.Marshal(api.LoginRequest{Email: api.Email(email), Password: benchPassword})
		if err != nil {
			return nil, err
		}
		users[i] = User{Email: email, login: body}
	}
	return users, nil
}
