// A frontend's whole story with the API, through the generated client, in order: the steps share
// one user and one session, as an app does. Run against a live server: `make e2e`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Session, expectProblem, publicClient, spoil, uniqueEmail, type User } from "./api.js";

describe("a frontend, through the client generated from openapi.yaml", () => {
  const anonymous = publicClient();
  const app = new Session(); // the browser tab the user works in
  const email = uniqueEmail("E2E.Flow"); // mixed case: the API stores it lowercased
  const password = "a long enough e2e passphrase";
  const name = "Ada Lovelace";
  let user: User;

  // --- Accounts and sessions ------------------------------------------------------------------

  test("registers: 201 with the user and a token pair", async () => {
    const { data, response } = await anonymous.POST("/auth/register", {
      body: { email, password, name, brandName: "Analytical Engines" },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.user.email, email.toLowerCase());
    assert.equal(data.user.name, name);
    assert.equal(data.user.role, "BRAND_OWNER");
    assert.equal(data.user.disabled, false);
    assert.ok(data.user.brandId, "a brand owner has a brand");
    assert.equal(data.tokenType, "Bearer");
    assert.ok(data.expiresIn > 0);
    assert.notEqual(data.accessToken, data.refreshToken);
    app.adopt(data);
    user = data.user;
  });

  test("a second registration with the same email, any case, is a 409 email_taken", async () => {
    const result = await anonymous.POST("/auth/register", {
      body: { email: email.toUpperCase(), password, name },
    });
    expectProblem(result, 409, "email_taken");
  });

  test("a password that is too short is a 400 validation_failed naming the field", async () => {
    const result = await anonymous.POST("/auth/register", {
      body: { email: uniqueEmail("e2e-short"), password: "short", name },
    });
    const problem = expectProblem(result, 400, "validation_failed");
    assert.ok(
      problem.errors?.some((e) => e.field === "password"),
      `errors name the password: ${JSON.stringify(problem.errors)}`,
    );
  });

  test("a wrong password is a 401 invalid_credentials with WWW-Authenticate", async () => {
    const result = await anonymous.POST("/auth/login", {
      body: { email, password: "not the passphrase at all" },
    });
    expectProblem(result, 401, "invalid_credentials");
    assert.match(result.response.headers.get("www-authenticate") ?? "", /^Bearer/);
  });

  test("reads the profile with the access token", async () => {
    const { data, response } = await app.api.GET("/auth/profile");
    assert.equal(response.status, 200);
    assert.deepEqual(data, user);
  });

  test("without a token the profile is a 401 unauthenticated", async () => {
    const result = await anonymous.GET("/auth/profile");
    expectProblem(result, 401, "unauthenticated");
  });

  test("refreshes: a new pair, and the old refresh token is spent", async () => {
    const before = app.refreshToken;
    assert.ok(await app.refresh());
    assert.ok(app.refreshToken && app.refreshToken !== before);
    const { data } = await app.api.GET("/auth/profile");
    assert.equal(data?.id, user.id);
  });

  test("a 401 on a stale access token is answered by one refresh and one retry", async () => {
    const calls = app.refreshCalls;
    const spent = app.refreshToken;
    app.setAccessToken(spoil(app.accessToken ?? ""));
    const { data, response } = await app.api.GET("/auth/profile");
    assert.equal(response.status, 200);
    assert.equal(data?.email, user.email);
    assert.equal(app.refreshCalls, calls + 1);
    assert.notEqual(app.refreshToken, spent);
  });

  test("concurrent 401s share a single refresh", async () => {
    const calls = app.refreshCalls;
    app.setAccessToken(spoil(app.accessToken ?? ""));
    const results = await Promise.all([
      app.api.GET("/auth/profile"),
      app.api.GET("/auth/sessions"),
      app.api.GET("/auth/profile"),
      app.api.GET("/auth/sessions"),
      app.api.GET("/auth/profile"),
    ]);
    assert.deepEqual(
      results.map((r) => r.response.status),
      [200, 200, 200, 200, 200],
    );
    // One rotation: a second refresh of the same token would have been taken for reuse (with
    // REFRESH_REUSE_GRACE=0s, as `make e2e` runs the server) and killed the session.
    assert.equal(app.refreshCalls, calls + 1);
    assert.ok(app.loggedIn);
  });

  test("lists the sessions: this one is current, another device's is there too", async () => {
    const phone = new Session();
    const login = await anonymous.POST("/auth/login", { body: { email, password } });
    assert.equal(login.response.status, 200);
    assert.ok(login.data);
    phone.adopt(login.data);

    const { data } = await app.api.GET("/auth/sessions");
    assert.ok(data);
    assert.equal(data.items.length, 2);
    assert.equal(data.items.filter((s) => s.current).length, 1);
    const fromPhone = await phone.api.GET("/auth/sessions");
    const phoneSession = fromPhone.data?.items.find((s) => s.current);
    assert.ok(phoneSession);
    assert.ok(data.items.some((s) => s.id === phoneSession.id && !s.current));
  });

  test("an old refresh token presented again is refused and ends that session", async () => {
    const login = await anonymous.POST("/auth/login", { body: { email, password } });
    assert.ok(login.data);
    const stolen = new Session();
    stolen.adopt(login.data);
    const { data: own } = await stolen.api.GET("/auth/sessions");
    const stolenId = own?.items.find((s) => s.current)?.id;
    assert.ok(stolenId);

    // Two rotations: R0 -> R1 -> R2. R0 is older than the token just rotated away from, so no
    // REFRESH_REUSE_GRACE covers it, whatever the server's setting.
    const r0 = login.data.refreshToken;
    assert.ok(await stolen.refresh());
    assert.ok(await stolen.refresh());
    const r2 = stolen.refreshToken;
    assert.ok(r2);

    const replay = await anonymous.POST("/auth/refresh", { body: { refreshToken: r0 } });
    expectProblem(replay, 401, "refresh_token_reused");
    // The whole session is gone: its newest refresh token and its access token too.
    const newest = await anonymous.POST("/auth/refresh", { body: { refreshToken: r2 } });
    expectProblem(newest, 401, "invalid_refresh_token");

    // The wrapped client sees a 401, tries its one refresh, fails, and logs the user out.
    const calls = stolen.refreshCalls;
    const afterwards = await stolen.api.GET("/auth/profile");
    expectProblem(afterwards, 401, "token_revoked");
    assert.equal(stolen.refreshCalls, calls + 1);
    assert.equal(stolen.lastRefreshProblem?.code, "invalid_refresh_token");
    assert.equal(stolen.loggedIn, false);

    // The user's other sessions are untouched.
    const { data: sessions } = await app.api.GET("/auth/sessions");
    assert.ok(sessions);
    assert.ok(!sessions.items.some((s) => s.id === stolenId));
    assert.ok(sessions.items.some((s) => s.current));
  });

  // --- Catalog (products) ---------------------------------------------------------------------

  const sku = `E2E-${Date.now().toString(36)}`;
  let productId = "";
  let etag = "";

  test("creates a product: 201 with Location, ETag and the brand's defaults", async () => {
    const brandId = user.brandId;
    assert.ok(brandId);
    const { data, response } = await app.api.POST("/brands/{brandId}/products", {
      params: { path: { brandId } },
      body: { sku, name: "Difference Engine", priceAmount: 1999, tags: ["e2e"], attributes: { color: "brass" } },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.currency, "USD");
    assert.equal(data.status, "draft");
    assert.equal(data.version, 1);
    assert.equal(response.headers.get("location"), `/brands/${brandId}/products/${data.id}`);
    etag = response.headers.get("etag") ?? "";
    assert.equal(etag, '"1"');
    productId = data.id;
  });

  test("the same SKU again is a 409 sku_taken", async () => {
    const result = await app.api.POST("/brands/{brandId}/products", {
      params: { path: { brandId: user.brandId ?? "" } },
      body: { sku, name: "Twin", priceAmount: 1 },
    });
    expectProblem(result, 409, "sku_taken");
  });

  test("lists it: found by tag and by a case-insensitive search of the SKU", async () => {
    const { data, response } = await app.api.GET("/brands/{brandId}/products", {
      params: { path: { brandId: user.brandId ?? "" }, query: { tag: "e2e", q: sku.toLowerCase(), limit: 10 } },
    });
    assert.equal(response.status, 200);
    assert.ok(data);
    assert.deepEqual(data.items.map((p) => p.id), [productId]);
    assert.equal(data.nextCursor, null);
  });

  test("updates it with If-Match: 200, the new price and the next ETag", async () => {
    const { data, response } = await app.api.PATCH("/brands/{brandId}/products/{productId}", {
      params: { path: { brandId: user.brandId ?? "", productId }, header: { "If-Match": etag } },
      body: { priceAmount: 2499, status: "active" },
    });
    assert.equal(response.status, 200);
    assert.ok(data);
    assert.equal(data.priceAmount, 2499);
    assert.equal(data.version, 2);
    assert.equal(response.headers.get("etag"), '"2"');
  });

  test("a stale If-Match is a 412 precondition_failed, and nothing changes", async () => {
    const result = await app.api.PATCH("/brands/{brandId}/products/{productId}", {
      params: { path: { brandId: user.brandId ?? "", productId }, header: { "If-Match": etag } },
      body: { priceAmount: 1 },
    });
    expectProblem(result, 412, "precondition_failed");
    const { data } = await app.api.GET("/brands/{brandId}/products/{productId}", {
      params: { path: { brandId: user.brandId ?? "", productId } },
    });
    assert.equal(data?.priceAmount, 2499);
  });

  // --- Inventory: a location, a receipt, a reservation and its release ------------------------

  const locationCode = `E2E-${Date.now().toString(36).toUpperCase()}`;
  let locationId = "";
  let reservationId = "";

  /** The product's totals over every location, as a storefront reads them. */
  async function totals(): Promise<{ onHand: number; reserved: number; available: number }> {
    const { data, response } = await app.api.GET("/brands/{brandId}/products/{productId}/inventory", {
      params: { path: { brandId: user.brandId ?? "", productId } },
    });
    assert.equal(response.status, 200);
    assert.ok(data);
    assert.equal(data.productId, productId);
    return { onHand: data.onHand, reserved: data.reserved, available: data.available };
  }

  test("creates a location: 201 with Location and ETag, active by default", async () => {
    const brandId = user.brandId ?? "";
    const { data, response } = await app.api.POST("/brands/{brandId}/locations", {
      params: { path: { brandId } },
      // `active` has a default, which openapi-typescript (defaultNonNullable) makes required.
      body: { code: locationCode, name: "E2E warehouse", active: true, address: { line1: "1 Engine Row", city: "London", country: "GB" } },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.code, locationCode);
    assert.equal(data.active, true);
    assert.equal(response.headers.get("location"), `/brands/${brandId}/locations/${data.id}`);
    assert.equal(response.headers.get("etag"), '"1"');
    locationId = data.id;

    const taken = await app.api.POST("/brands/{brandId}/locations", {
      params: { path: { brandId } },
      body: { code: locationCode, name: "Twin", active: true },
    });
    expectProblem(taken, 409, "location_code_taken");
  });

  test("the product has no stock yet", async () => {
    assert.deepEqual(await totals(), { onHand: 0, reserved: 0, available: 0 });
  });

  test("receives 10 units with an Idempotency-Key; the retry is replayed, not received twice", async () => {
    const receipt = {
      params: { path: { brandId: user.brandId ?? "" }, header: { "Idempotency-Key": `e2e-receipt-${locationCode}` } },
      body: { kind: "receipt" as const, reference: "PO-E2E-1", lines: [{ productId, locationId, delta: 10 }] },
    };
    const { data, response } = await app.api.POST("/brands/{brandId}/inventory/adjustments", receipt);
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.movementIds.length, 1);
    assert.equal(data.levels.length, 1);
    assert.deepEqual(
      { productId: data.levels[0]?.productId, locationId: data.levels[0]?.locationId, onHand: data.levels[0]?.onHand, reserved: data.levels[0]?.reserved, available: data.levels[0]?.available },
      { productId, locationId, onHand: 10, reserved: 0, available: 10 },
    );
    assert.equal(data.levels[0]?.sku, sku);

    const retry = await app.api.POST("/brands/{brandId}/inventory/adjustments", receipt);
    assert.equal(retry.response.status, 201);
    assert.equal(retry.response.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(retry.data, data);
    assert.deepEqual(await totals(), { onHand: 10, reserved: 0, available: 10 });
  });

  test("reserves 3 units: 201, allocated at the location; available goes down to 7", async () => {
    const brandId = user.brandId ?? "";
    const { data, response } = await app.api.POST("/brands/{brandId}/reservations", {
      params: { path: { brandId } },
      body: { lines: [{ productId, quantity: 3 }], ttlSeconds: 600, reference: "CART-E2E" },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.status, "active");
    assert.equal(response.headers.get("location"), `/brands/${brandId}/reservations/${data.id}`);
    assert.deepEqual(data.lines, [{ productId, quantity: 3, allocations: [{ locationId, quantity: 3 }] }]);
    assert.ok(Date.parse(data.expiresAt) > Date.now());
    reservationId = data.id;
    assert.deepEqual(await totals(), { onHand: 10, reserved: 3, available: 7 });
  });

  test("reserving more than is available is a 422 insufficient_stock naming the line, and holds nothing", async () => {
    const result = await app.api.POST("/brands/{brandId}/reservations", {
      params: { path: { brandId: user.brandId ?? "" } },
      body: { lines: [{ productId, quantity: 8 }], ttlSeconds: 900 },
    });
    const problem = expectProblem(result, 422, "insufficient_stock");
    assert.deepEqual(
      problem.lines?.map((l) => ({ index: l.index, productId: l.productId, requested: l.requested, available: l.available })),
      [{ index: 0, productId, requested: 8, available: 7 }],
    );
    assert.deepEqual(await totals(), { onHand: 10, reserved: 3, available: 7 });
  });

  test("releases the reservation: 204 (again 204), released, available back to 10", async () => {
    const brandId = user.brandId ?? "";
    const params = { params: { path: { brandId, reservationId } } };
    const released = await app.api.DELETE("/brands/{brandId}/reservations/{reservationId}", params);
    assert.equal(released.response.status, 204);
    const again = await app.api.DELETE("/brands/{brandId}/reservations/{reservationId}", params);
    assert.equal(again.response.status, 204);

    const { data } = await app.api.GET("/brands/{brandId}/reservations/{reservationId}", params);
    assert.equal(data?.status, "released");
    assert.deepEqual(await totals(), { onHand: 10, reserved: 0, available: 10 });
  });

  test("the ledger tells the story: receipt, reservation, release, newest first", async () => {
    const { data, response } = await app.api.GET("/brands/{brandId}/inventory/movements", {
      params: { path: { brandId: user.brandId ?? "" }, query: { productId } },
    });
    assert.equal(response.status, 200);
    assert.ok(data);
    assert.deepEqual(
      data.items.map((m) => [m.kind, m.onHandDelta, m.reservedDelta, m.onHand, m.reserved]),
      [
        ["release", 0, -3, 10, 0],
        ["reservation", 0, 3, 10, 3],
        ["receipt", 10, 0, 10, 0],
      ],
    );
    assert.equal(data.items[1]?.reservationId, reservationId);
    assert.equal(data.items[2]?.reference, "PO-E2E-1");
  });

  // --- Orders: placed with a key (and retried), confirmed, fulfilled in part, the rest cancelled --

  let orderId = "";
  let orderLineId = "";
  let stockBeforeOrder = { onHand: 0, reserved: 0, available: 0 };

  test("places an order of 4 units with an Idempotency-Key: 201, pending, priced, its stock held", async () => {
    const brandId = user.brandId ?? "";
    stockBeforeOrder = await totals();
    const order = {
      params: { path: { brandId }, header: { "Idempotency-Key": `e2e-order-${locationCode}` } },
      body: {
        lines: [{ productId, quantity: 4 }],
        customer: { email: "ada@example.com", name: "Ada Lovelace" },
        shippingAddress: { line1: "12 Babbage Street", city: "London", postalCode: "N1 9GU", country: "GB" },
      },
    };
    const { data, response } = await app.api.POST("/brands/{brandId}/orders", order);
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.status, "pending");
    assert.ok(data.number >= 1001);
    assert.equal(response.headers.get("location"), `/brands/${brandId}/orders/${data.id}`);
    assert.equal(response.headers.get("etag"), '"1"');
    assert.equal(data.lines.length, 1);
    const line = data.lines[0];
    assert.ok(line);
    assert.deepEqual(
      { productId: line.productId, sku: line.sku, quantity: line.quantity, priceAmount: line.priceAmount, lineTotal: line.lineTotal },
      { productId, sku, quantity: 4, priceAmount: 2499, lineTotal: 4 * 2499 },
    );
    assert.deepEqual(line.allocations.map((a) => ({ locationId: a.locationId, quantity: a.quantity })), [{ locationId, quantity: 4 }]);
    assert.equal(data.total, 4 * 2499);
    orderId = data.id;
    orderLineId = line.id;
    assert.deepEqual(await totals(), {
      onHand: stockBeforeOrder.onHand,
      reserved: stockBeforeOrder.reserved + 4,
      available: stockBeforeOrder.available - 4,
    });

    // The retry (a lost answer, say): the same order back, replayed, and nothing held twice.
    const retry = await app.api.POST("/brands/{brandId}/orders", order);
    assert.equal(retry.response.status, 201);
    assert.equal(retry.response.headers.get("idempotent-replayed"), "true");
    assert.equal(retry.data?.id, orderId);
    assert.equal(retry.data?.number, data.number);
    assert.deepEqual(retry.data, data);
    assert.equal((await totals()).reserved, stockBeforeOrder.reserved + 4);
  });

  test("an order without an Idempotency-Key is a 400 idempotency_key_required", async () => {
    const result = await app.api.POST("/brands/{brandId}/orders", {
      params: { path: { brandId: user.brandId ?? "" } },
      body: {
        lines: [{ productId, quantity: 1 }],
        customer: { email: "ada@example.com", name: "Ada Lovelace" },
        shippingAddress: { line1: "12 Babbage Street", city: "London", country: "GB" },
      },
    } as never); // the key the types require is what this request leaves out
    expectProblem(result, 400, "idempotency_key_required");
  });

  test("confirms it: 200, confirmed, version 2", async () => {
    const { data, response } = await app.api.POST("/brands/{brandId}/orders/{orderId}/confirm", {
      params: { path: { brandId: user.brandId ?? "", orderId }, header: { "If-Match": '"1"' } },
      body: { paymentReference: "pi_e2e" },
    });
    assert.equal(response.status, 200);
    assert.ok(data);
    assert.equal(data.status, "confirmed");
    assert.equal(data.version, 2);
    assert.deepEqual(data.allowedActions, ["fulfil", "cancel"]);
  });

  test("ships 1 of the 4 units: 201, partially fulfilled; onHand and reserved fall by 1", async () => {
    const { data, response } = await app.api.POST("/brands/{brandId}/orders/{orderId}/fulfilments", {
      params: { path: { brandId: user.brandId ?? "", orderId } },
      body: { lines: [{ lineId: orderLineId, quantity: 1 }], carrier: "Royal Mail", trackingNumber: "RM123456789GB" },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.orderStatus, "partially_fulfilled");
    assert.deepEqual(data.lines, [{ lineId: orderLineId, quantity: 1 }]);
    assert.deepEqual(await totals(), {
      onHand: stockBeforeOrder.onHand - 1,
      reserved: stockBeforeOrder.reserved + 3,
      available: stockBeforeOrder.available - 4,
    });
  });

  test("cancels the rest: 200, cancelled; the 3 unshipped units are free again", async () => {
    const { data, response } = await app.api.POST("/brands/{brandId}/orders/{orderId}/cancel", {
      params: { path: { brandId: user.brandId ?? "", orderId } },
      body: { reason: "customer changed their mind" },
    });
    assert.equal(response.status, 200);
    assert.ok(data);
    assert.equal(data.status, "cancelled");
    assert.equal(data.cancelReason, "customer changed their mind");
    assert.equal(data.lines[0]?.fulfilledQuantity, 1);
    assert.deepEqual(data.allowedActions, []);

    const again = await app.api.POST("/brands/{brandId}/orders/{orderId}/cancel", {
      params: { path: { brandId: user.brandId ?? "", orderId } },
      body: {},
    });
    expectProblem(again, 409, "invalid_order_transition");
  });

  test("the stock read back: onHand fell by the unit shipped, reserved is what it was before the order", async () => {
    assert.deepEqual(await totals(), {
      onHand: stockBeforeOrder.onHand - 1,
      reserved: stockBeforeOrder.reserved,
      available: stockBeforeOrder.available - 1,
    });
    const { data } = await app.api.GET("/brands/{brandId}/inventory/movements", {
      params: { path: { brandId: user.brandId ?? "" }, query: { productId, limit: 3 } },
    });
    assert.deepEqual(
      data?.items.map((m) => [m.kind, m.onHandDelta, m.reservedDelta, m.orderId]),
      [
        ["release", 0, -3, orderId],
        ["fulfilment", -1, -1, orderId],
        ["reservation", 0, 4, orderId],
      ],
    );
  });

  // --- Options and variants: a product with two options, stocked and sold per variant ---------

  let teeId = "";
  const variantIds: string[] = [];

  test("creates a product with options and its variants; the parent summarises them", async () => {
    const brandId = user.brandId ?? "";
    const created = await app.api.POST("/brands/{brandId}/products", {
      params: { path: { brandId } },
      body: {
        sku: `${sku}-TEE`, name: "T-shirt", priceAmount: 1500, status: "active",
        options: [{ name: "Size", values: ["S", "M"] }, { name: "Color", values: ["Black"] }],
        images: [{ url: "https://cdn.example.com/tee.jpg", alt: "The T-shirt" }],
      },
    });
    assert.equal(created.response.status, 201);
    assert.ok(created.data);
    teeId = created.data.id;
    for (const [i, size] of ["S", "M"].entries()) {
      const { data, response } = await app.api.POST("/brands/{brandId}/products/{productId}/variants", {
        params: { path: { brandId, productId: teeId } },
        body: { sku: `${sku}-TEE-${size}`, priceAmount: 1500 + 100 * i, optionValues: [{ name: "Size", value: size }, { name: "Color", value: "Black" }] },
      });
      assert.equal(response.status, 201);
      assert.ok(data);
      assert.equal(data.parentId, teeId);
      assert.deepEqual(data.optionValues, [{ name: "Size", value: size }, { name: "Color", value: "Black" }]);
      assert.equal(response.headers.get("location"), `/brands/${brandId}/products/${teeId}/variants/${data.id}`);
      variantIds.push(data.id);
    }
    const { data } = await app.api.GET("/brands/{brandId}/products/{productId}", { params: { path: { brandId, productId: teeId } } });
    assert.equal(data?.variantCount, 2);
    assert.deepEqual(data?.priceRange, { minAmount: 1500, maxAmount: 1600, currency: "USD" });
    const listed = await app.api.GET("/brands/{brandId}/products/{productId}/variants", { params: { path: { brandId, productId: teeId } } });
    assert.deepEqual(listed.data?.items.map((v) => v.id), variantIds);
  });

  test("the parent is not stocked itself (422 variant_required); a variant is, and is sold with its option values", async () => {
    const brandId = user.brandId ?? "";
    const parent = await app.api.POST("/brands/{brandId}/inventory/adjustments", {
      params: { path: { brandId }, header: {} },
      body: { kind: "receipt", lines: [{ productId: teeId, locationId, delta: 1 }] },
    });
    expectProblem(parent, 422, "variant_required");
    const variantId = variantIds[1] ?? "";
    const received = await app.api.POST("/brands/{brandId}/inventory/adjustments", {
      params: { path: { brandId }, header: {} },
      body: { kind: "receipt", lines: [{ productId: variantId, locationId, delta: 5 }] },
    });
    assert.equal(received.response.status, 201);
    assert.deepEqual(received.data?.levels[0]?.optionValues, [{ name: "Size", value: "M" }, { name: "Color", value: "Black" }]);
    const { data, response } = await app.api.POST("/brands/{brandId}/orders", {
      params: { path: { brandId }, header: { "Idempotency-Key": `e2e-variant-order-${locationCode}` } },
      body: {
        lines: [{ productId: variantId, quantity: 2 }],
        customer: { email: "ada@example.com", name: "Ada Lovelace" },
        shippingAddress: { line1: "12 Babbage Street", city: "London", postalCode: "N1 9GU", country: "GB" },
      },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.lines[0]?.sku, `${sku}-TEE-M`);
    assert.deepEqual(data.lines[0]?.optionValues, [{ name: "Size", value: "M" }, { name: "Color", value: "Black" }]);
  });

  test("a barcode with a wrong check digit is a 400 naming the field", async () => {
    const result = await app.api.PATCH("/brands/{brandId}/products/{productId}/variants/{variantId}", {
      params: { path: { brandId: user.brandId ?? "", productId: teeId, variantId: variantIds[0] ?? "" }, header: {} },
      body: { barcode: "4006381333932" },
    });
    const problem = expectProblem(result, 400, "validation_failed");
    assert.equal(problem.errors?.[0]?.field, "barcode");
  });

  // --- An order as shops send it: shipping, a discount and tax; a partial return restocked; a refund --

  let shopOrderId = "";
  let shopLineId = "";

  test("places an order with shipping, a discount and tax: the server totals it", async () => {
    const brandId = user.brandId ?? "";
    const { data, response } = await app.api.POST("/brands/{brandId}/orders", {
      params: { path: { brandId }, header: { "Idempotency-Key": `e2e-shop-order-${locationCode}` } },
      body: {
        lines: [{ productId, quantity: 2, taxLines: [{ name: "VAT", rate: "20", amount: 900 }] }],
        customer: { email: "Grace@Example.com", name: "Grace Hopper" },
        shippingAddress: { line1: "12 Babbage Street", city: "London", country: "GB" },
        shippingAmount: 499,
        shippingMethod: "Royal Mail Tracked 48",
        discounts: [{ code: "WELCOME5", amount: 500 }],
        taxLines: [{ name: "VAT on shipping", rate: "20", amount: 100 }],
      },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    // 2 × 2499 = 4998; − 500 + 499 + (900 + 100) = 5997.
    assert.deepEqual(
      [data.subtotal, data.discountTotal, data.shippingTotal, data.taxTotal, data.total, data.cancelledTotal, data.refundedTotal],
      [4998, 500, 499, 1000, 5997, 0, 0],
    );
    assert.ok(data.customerId);
    shopOrderId = data.id;
    shopLineId = data.lines[0]?.id ?? "";
    for (const step of ["confirm", "fulfilments"] as const) {
      const path = `/brands/{brandId}/orders/{orderId}/${step}` as const;
      const body = step === "confirm" ? {} : { lines: [{ lineId: shopLineId, quantity: 2 }] };
      const r = await app.api.POST(path, { params: { path: { brandId, orderId: shopOrderId } }, body } as never);
      assert.ok(r.response.status < 300, `${step}: ${r.response.status}`);
    }
  });

  test("returns 1 of the 2 shipped units and restocks it: onHand grows by 1 with a return movement", async () => {
    const brandId = user.brandId ?? "";
    const before = await totals();
    const { data, response } = await app.api.POST("/brands/{brandId}/orders/{orderId}/returns", {
      params: { path: { brandId, orderId: shopOrderId }, header: { "Idempotency-Key": `e2e-return-${locationCode}` } },
      body: { lines: [{ lineId: shopLineId, quantity: 1, reason: "damaged" }], note: "Box crushed" },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.status, "requested");
    const order = await app.api.GET("/brands/{brandId}/orders/{orderId}", { params: { path: { brandId, orderId: shopOrderId } } });
    assert.equal(order.data?.status, "partially_returned");
    assert.equal(order.data?.lines[0]?.quantityReturned, 1);

    const received = await app.api.POST("/brands/{brandId}/returns/{returnId}/receive", {
      params: { path: { brandId, returnId: data.id } },
      body: { lines: [{ lineId: shopLineId, disposition: "restock", locationId }] },
    });
    assert.equal(received.response.status, 200);
    assert.equal(received.data?.status, "received");
    assert.deepEqual(await totals(), { onHand: before.onHand + 1, reserved: before.reserved, available: before.available + 1 });
    const { data: ledger } = await app.api.GET("/brands/{brandId}/inventory/movements", {
      params: { path: { brandId }, query: { productId, kind: "return" } },
    });
    assert.deepEqual(ledger?.items.map((m) => [m.kind, m.onHandDelta, m.orderId]), [["return", 1, shopOrderId]]);
  });

  test("refunds the returned unit: refundedTotal grows; more than was paid is a 422", async () => {
    const brandId = user.brandId ?? "";
    const { data, response } = await app.api.POST("/brands/{brandId}/orders/{orderId}/refunds", {
      params: { path: { brandId, orderId: shopOrderId } },
      body: { amount: 2499, currency: "USD", reason: "Returned damaged", lines: [{ lineId: shopLineId, quantity: 1 }] },
    });
    assert.equal(response.status, 201);
    assert.ok(data);
    assert.equal(data.orderRefundedTotal, 2499);
    const over = await app.api.POST("/brands/{brandId}/orders/{orderId}/refunds", {
      params: { path: { brandId, orderId: shopOrderId } },
      body: { amount: 5997, currency: "USD" },
    });
    expectProblem(over, 422, "refund_exceeds_paid");
  });

  // --- Purchasing: a PO drafted from a reorder suggestion, ordered, received in two parts -----

  let purchaseOrderId = "";

  test("a level at its reorder point is suggested, and a PO is drafted from the suggestion", async () => {
    const brandId = user.brandId ?? "";
    const supplier = await app.api.POST("/brands/{brandId}/suppliers", {
      params: { path: { brandId } },
      body: { code: "E2E-SUPPLIER", name: "E2E supplier", currency: "USD", leadTimeDays: 5 },
    });
    assert.equal(supplier.response.status, 201);
    assert.ok(supplier.data);
    const level = await app.api.PATCH("/brands/{brandId}/inventory/{productId}/{locationId}", {
      params: { path: { brandId, productId, locationId } },
      body: { reorderPoint: 1000, reorderQuantity: 20 },
    });
    assert.equal(level.response.status, 200);
    const suggestions = await app.api.GET("/brands/{brandId}/inventory/reorder-suggestions", { params: { path: { brandId } } });
    assert.equal(suggestions.response.status, 200);
    const mine = suggestions.data?.items.find((s) => s.productId === productId && s.locationId === locationId);
    assert.equal(mine?.suggestedQuantity, 20);
    assert.equal(mine?.supplierId, null, "never bought: no last supplier yet");

    const drafted = await app.api.POST("/brands/{brandId}/purchase-orders/from-suggestions", {
      params: { path: { brandId } },
      body: { supplierId: supplier.data.id, locationId },
    });
    assert.equal(drafted.response.status, 201);
    const po = drafted.data?.items[0];
    assert.ok(po);
    assert.equal(po.status, "draft");
    assert.match(po.reference, /^PO-\d+$/);
    assert.deepEqual(po.lines.map((l) => [l.productId, l.quantity, l.receivedQuantity]), [[productId, 20, 0]]);
    assert.deepEqual(po.allowedActions, ["update", "submit", "cancel"]);
    purchaseOrderId = po.id;
  });

  test("orders the PO with If-Match: its 20 units are incoming, never available", async () => {
    const brandId = user.brandId ?? "";
    const before = await totals();
    const { data, response } = await app.api.POST("/brands/{brandId}/purchase-orders/{purchaseOrderId}/submit", {
      params: { path: { brandId, purchaseOrderId }, header: { "If-Match": '"1"' } },
    });
    assert.equal(response.status, 200);
    assert.equal(data?.status, "ordered");
    const inv = await app.api.GET("/brands/{brandId}/products/{productId}/inventory", { params: { path: { brandId, productId } } });
    assert.equal(inv.data?.incoming, 20);
    assert.deepEqual(await totals(), before);
  });

  test("receives it in two parts; over-receiving is a 422 over_receipt", async () => {
    const brandId = user.brandId ?? "";
    const po = await app.api.GET("/brands/{brandId}/purchase-orders/{purchaseOrderId}", { params: { path: { brandId, purchaseOrderId } } });
    const lineId = po.data?.lines[0]?.id ?? "";
    const receive = (quantity: number, key: string) =>
      app.api.POST("/brands/{brandId}/purchase-orders/{purchaseOrderId}/receipts", {
        params: { path: { brandId, purchaseOrderId }, header: { "Idempotency-Key": key } },
        body: { lines: [{ lineId, quantity }], allowOverReceipt: false },
      });
    const before = await totals();
    const first = await receive(12, `e2e-po-1-${locationCode}`);
    assert.equal(first.response.status, 201);
    assert.equal(first.data?.purchaseOrder.status, "partially_received");
    assert.equal(first.data?.levels[0]?.incoming, 8);
    expectProblem(await receive(9, `e2e-po-over-${locationCode}`), 422, "over_receipt");
    const second = await receive(8, `e2e-po-2-${locationCode}`);
    assert.equal(second.response.status, 201);
    assert.equal(second.data?.purchaseOrder.status, "received");
    assert.deepEqual(second.data?.purchaseOrder.allowedActions, []);
    const after = await totals();
    assert.equal(after.onHand, before.onHand + 20);
    const inv = await app.api.GET("/brands/{brandId}/products/{productId}/inventory", { params: { path: { brandId, productId } } });
    assert.equal(inv.data?.incoming, 0);
    assert.equal(inv.data?.averageCost, 0, "received at the suggestion's cost (none known: 0)");
  });

  // --- CSV import and export ----------------------------------------------------------------

  test("imports products from CSV in the background, then exports them as CSV", async () => {
    const brandId = user.brandId ?? "";
    const csvSku = `CSV-${Date.now()}`;
    const file = `sku,name,priceAmount,status\r\n${csvSku},Imported,4200,active\r\n`;
    const { data: queued, response } = await app.api.POST("/brands/{brandId}/imports", {
      params: { path: { brandId }, query: { kind: "products" } },
      body: file as unknown as string,
      bodySerializer: (b: unknown) => b as string,
      headers: { "Content-Type": "text/csv" },
    });
    assert.equal(response.status, 202);
    assert.ok(queued);
    assert.equal(response.headers.get("Location"), `/brands/${brandId}/imports/${queued.id}`);
    let done = queued;
    for (let i = 0; i < 600 && (done.status === "queued" || done.status === "running"); i++) {
      await new Promise((r) => setTimeout(r, 100));
      const { data } = await app.api.GET("/brands/{brandId}/imports/{importId}", {
        params: { path: { brandId, importId: queued.id } },
      });
      assert.ok(data);
      done = data;
    }
    assert.equal(done.status, "succeeded");
    assert.deepEqual([done.created, done.updated, done.unchanged, done.errorCount], [1, 0, 0, 0]);

    const exported = await app.api.GET("/brands/{brandId}/exports/products.csv", {
      params: { path: { brandId } },
      parseAs: "text",
    });
    assert.equal(exported.response.status, 200);
    const text = String(exported.data ?? "");
    assert.ok(text.startsWith("sku,name,priceAmount,"));
    assert.ok(text.includes(`${csvSku},Imported,4200,`));
  });

  // --- Logout ---------------------------------------------------------------------------------

  test("logs out: 204, then the access and refresh tokens are refused at once", async () => {
    const accessToken = app.accessToken;
    const refreshToken = app.refreshToken;
    assert.ok(accessToken && refreshToken);
    const { response } = await app.api.POST("/auth/logout");
    assert.equal(response.status, 204);
    app.forget();

    const profile = await anonymous.GET("/auth/profile", {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    expectProblem(profile, 401, "token_revoked");
    const refresh = await anonymous.POST("/auth/refresh", { body: { refreshToken } });
    expectProblem(refresh, 401, "invalid_refresh_token");
  });
});
