// Browser code on another origin calling the API, as a storefront or an admin frontend served from
// its own host does: a page served by this test on a second local origin, fetch() in Chromium, the
// preflight and the CORS response headers as the browser enforces them. Run by `make e2e`, which
// starts the server with CORS_ALLOWED_ORIGINS naming http://127.0.0.1:$E2E_PAGE_PORT only.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser, type BrowserContext } from "playwright-core";
import { baseUrl, publicClient, uniqueEmail } from "./api.js";

const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function pagePort(): number {
  const port = Number(process.env.E2E_PAGE_PORT);
  if (!Number.isInteger(port) || port <= 0) {
    throw new Error("E2E_PAGE_PORT is not set: run the end-to-end tests with `make e2e`");
  }
  return port;
}

/** What the page's own code could read of the API's answers. */
type Seen = {
  location: { status: number; location: string | null; etag: string | null; requestId: string | null };
  receipt: { status: number; replayed: string | null; requestId: string | null };
  retry: { status: number; replayed: string | null; requestId: string | null };
  product: { status: number; etag: string | null };
};

describe("a page on another origin calls the API with fetch(), in Chromium (CORS)", { timeout: 120_000 }, () => {
  const base = baseUrl();
  const port = pagePort();
  // The origin CORS_ALLOWED_ORIGINS lists, and the same page under a name it does not list: a
  // different origin (RFC 6454 compares the host as written).
  const allowedOrigin = `http://127.0.0.1:${port}`;
  const refusedOrigin = `http://localhost:${port}`;
  let pages: Server;
  let browser: Browser;
  let context: BrowserContext;
  let accessToken = "";
  let brandId = "";
  let productId = "";

  before(async () => {
    const api = publicClient(base);
    const email = uniqueEmail("e2e-cors");
    const password = "a long enough cors passphrase";
    assert.equal((await api.POST("/auth/register", { body: { email, password, name: "CORS Tester" } })).response.status, 201);
    const login = await api.POST("/auth/login", { body: { email, password } });
    assert.ok(login.data, `login: ${login.response.status}`);
    accessToken = login.data.accessToken;
    brandId = login.data.user.brandId ?? "";
    const product = await api.POST("/brands/{brandId}/products", {
      params: { path: { brandId } },
      headers: { Authorization: `Bearer ${accessToken}` },
      body: { sku: `CORS-${Date.now().toString(36).toUpperCase()}`, name: "Cross-origin mug", priceAmount: 1200, status: "active" },
    });
    assert.ok(product.data, `create product: ${product.response.status}`);
    productId = product.data.id;

    // The second origin: a plain page, nothing of the API on it.
    pages = createServer((_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8" });
      res.end("<!doctype html><title>A shop on another origin</title><p>storefront</p>");
    });
    await new Promise<void>((resolve, reject) => {
      pages.once("error", reject);
      pages.listen(port, "127.0.0.1", () => resolve());
    });

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      headless: true,
      args: CHROMIUM_ARGS,
    });
    context = await browser.newContext();
    await context.route("**/*", (route) => {
      const { hostname } = new URL(route.request().url());
      return ["127.0.0.1", "localhost"].includes(hostname) ? route.continue() : route.abort();
    });
  });

  after(async () => {
    await browser?.close();
    await new Promise((resolve) => pages?.close(resolve));
  });

  test("from an allowed origin, the page reads Location, ETag, X-Request-Id and Idempotent-Replayed", async () => {
    const page = await context.newPage();
    await page.goto(`${allowedOrigin}/`);
    const code = `CORS-${Date.now().toString(36).toUpperCase()}`;
    const seen: Seen = await page.evaluate(
      async ({ base, token, brandId, productId, code }) => {
        const auth = { Authorization: `Bearer ${token}` };
        const json = { ...auth, "Content-Type": "application/json" };
        const location = await fetch(`${base}/brands/${brandId}/locations`, {
          method: "POST",
          headers: json,
          body: JSON.stringify({ code, name: "Cross-origin store" }),
        });
        const locationId = ((await location.json()) as { id: string }).id;
        const receipt = {
          method: "POST",
          headers: { ...json, "Idempotency-Key": `cors-${code}` },
          body: JSON.stringify({ kind: "receipt", lines: [{ productId, locationId, delta: 5 }] }),
        };
        const first = await fetch(`${base}/brands/${brandId}/inventory/adjustments`, receipt);
        const retry = await fetch(`${base}/brands/${brandId}/inventory/adjustments`, receipt);
        const product = await fetch(`${base}/brands/${brandId}/products/${productId}`, { headers: auth });
        return {
          location: {
            status: location.status,
            location: location.headers.get("Location"),
            etag: location.headers.get("ETag"),
            requestId: location.headers.get("X-Request-Id"),
          },
          receipt: { status: first.status, replayed: first.headers.get("Idempotent-Replayed"), requestId: first.headers.get("X-Request-Id") },
          retry: { status: retry.status, replayed: retry.headers.get("Idempotent-Replayed"), requestId: retry.headers.get("X-Request-Id") },
          product: { status: product.status, etag: product.headers.get("ETag") },
        };
      },
      { base, token: accessToken, brandId, productId, code },
    );
    await page.close();

    assert.equal(seen.location.status, 201);
    assert.match(seen.location.location ?? "", new RegExp(`^/brands/${brandId}/locations/[0-9a-f-]{36}$`));
    assert.equal(seen.location.etag, '"1"');
    assert.match(seen.location.requestId ?? "", /^[0-9A-Z]{26}$/);
    assert.equal(seen.receipt.status, 201);
    assert.equal(seen.receipt.replayed, null);
    assert.equal(seen.retry.status, 201);
    assert.equal(seen.retry.replayed, "true");
    assert.ok(seen.retry.requestId && seen.retry.requestId !== seen.receipt.requestId, "each answer has its own request id");
    assert.equal(seen.product.status, 200);
    assert.equal(seen.product.etag, '"1"');
  });

  test("from an origin not listed, the browser refuses, and the preflight names CORS_ALLOWED_ORIGINS", async () => {
    const page = await context.newPage();
    await page.goto(`${refusedOrigin}/`);
    const outcome = await page.evaluate(
      async ({ base, token, brandId, productId }) => {
        try {
          const r = await fetch(`${base}/brands/${brandId}/products/${productId}`, { headers: { Authorization: `Bearer ${token}` } });
          return `read ${r.status}`;
        } catch (error) {
          return `refused: ${(error as Error).name}`;
        }
      },
      { base, token: accessToken, brandId, productId },
    );
    await page.close();
    assert.equal(outcome, "refused: TypeError");

    // The same preflight the browser sent, read outside the browser (page code never sees it).
    const preflight = await fetch(`${base}/brands/${brandId}/products/${productId}`, {
      method: "OPTIONS",
      headers: { Origin: refusedOrigin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" },
    });
    assert.equal(preflight.status, 403);
    assert.equal(preflight.headers.get("content-type"), "application/problem+json");
    assert.equal(preflight.headers.get("access-control-allow-origin"), null);
    const problem = (await preflight.json()) as { code: string; detail: string; requestId: string };
    assert.equal(problem.code, "cors_not_allowed");
    assert.ok(problem.detail.includes("CORS_ALLOWED_ORIGINS"), `the detail names the setting: ${problem.detail}`);
    assert.ok(problem.detail.includes(refusedOrigin), `the detail names the origin: ${problem.detail}`);
    assert.equal(problem.requestId, preflight.headers.get("x-request-id"));
  });
});
