// Swagger UI at /api-docs in a real browser (Debian's Chromium driven by playwright-core, headless,
// no browser download), as an API consumer meets it. Run against a live server: `make e2e`.
import assert from "node:assert/strict";
import { mkdir, readFile } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { parse } from "yaml";
import { baseUrl, publicClient, uniqueEmail } from "./api.js";

// The spec the server under test was built from; E2E_SPEC points elsewhere for another server.
const specPath = process.env.E2E_SPEC ?? fileURLToPath(new URL("../../openapi.yaml", import.meta.url));
const artifacts = fileURLToPath(new URL("../artifacts/", import.meta.url));

// As root on a closed network: no sandbox, and none of Chromium's own background traffic
// (component updates, sync, field trials), which this machine's network refuses.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

type Spec = { info: { title: string; version: string }; tags?: { name: string }[] };

function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  if (protocol === "data:" || protocol === "blob:" || protocol === "about:") {
    return true;
  }
  return ["127.0.0.1", "localhost", "[::1]"].includes(hostname);
}

describe("Swagger UI at /api-docs, in Chromium", { timeout: 120_000 }, () => {
  const base = baseUrl();
  let spec: Spec;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const profileAuthHeaders: (string | undefined)[] = [];
  const pageErrors: string[] = [];
  const email = uniqueEmail("e2e-swagger");
  let accessToken: string;
  let brandId: string;
  let summerShirtSku: string;

  before(async () => {
    spec = parse(await readFile(specPath, "utf8")) as Spec;
    await mkdir(artifacts, { recursive: true });

    // A user, through the API; the token the page gets is the one /auth/login hands out.
    const api = publicClient(base);
    const password = "a long enough swagger passphrase";
    const registered = await api.POST("/auth/register", { body: { email, password, name: "Swagger Tester" } });
    assert.equal(registered.response.status, 201);
    const login = await api.POST("/auth/login", { body: { email, password } });
    assert.ok(login.data, `login: ${login.response.status}`);
    accessToken = login.data.accessToken;
    brandId = login.data.user.brandId ?? "";
    assert.ok(brandId, "a registered owner has a brand");
    // A product that listProducts' pre-filled examples find (q=shirt, tag=summer, status=active).
    summerShirtSku = `SWAG-${Date.now().toString(36).toUpperCase()}`;
    const created = await api.POST("/brands/{brandId}/products", {
      params: { path: { brandId } },
      headers: { Authorization: `Bearer ${accessToken}` },
      body: { sku: summerShirtSku, name: "Linen shirt", priceAmount: 3900, currency: "EUR", status: "active", tags: ["summer"] },
    });
    assert.equal(created.response.status, 201);

    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      headless: true,
      args: CHROMIUM_ARGS,
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    // Every request any page of this context makes is recorded; one that would leave the machine
    // is also stopped, so the page cannot hang on it.
    context.on("request", (request) => {
      requests.push(request.url());
      if (new URL(request.url()).pathname === "/auth/profile") {
        profileAuthHeaders.push(request.headers()["authorization"]);
      }
    });
    await context.route("**/*", (route) => (isLocal(route.request().url()) ? route.continue() : route.abort()));
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (error) => pageErrors.push(error.message));
  });

  after(async () => {
    // The page as the run left it: what to look at first when a step above failed.
    await page?.screenshot({ path: `${artifacts}swagger-ui-last.png` }).catch(() => undefined);
    await browser?.close();
  });

  async function open(): Promise<void> {
    await page.goto(`${base}/api-docs`, { waitUntil: "networkidle" });
    await page.locator(".information-container .info .title").waitFor();
  }

  /** "Try it out" and "Execute" on GET /auth/profile; returns the response status shown. */
  async function tryProfile(): Promise<{ status: string; body: string }> {
    const op = page.locator("#operations-auth-getProfile");
    if (!(await op.locator(".opblock-body").isVisible())) {
      await op.locator(".opblock-summary").first().click();
    }
    const tryOut = op.locator("button.try-out__btn");
    if ((await tryOut.innerText()).trim() === "Try it out") {
      await tryOut.click();
    }
    await op.locator("button.execute").click();
    const row = op.locator(".live-responses-table .response").first();
    await row.waitFor();
    const status = (await row.locator(".response-col_status").innerText()).trim();
    const body = await row.locator(".response-col_description .microlight, .response-col_description pre").first().innerText();
    await op.locator(".live-responses-table").scrollIntoViewIfNeeded();
    return { status, body };
  }

  test("renders the API title and every tag of openapi.yaml", async () => {
    await open();
    const title = await page.locator(".information-container .info .title").innerText();
    assert.ok(title.includes(spec.info.title), `title: ${title}`);
    assert.ok(title.includes(spec.info.version), `version in: ${title}`);
    const want = (spec.tags ?? []).map((t) => t.name);
    assert.ok(want.length > 0, "the spec declares tags");
    for (const tag of want) {
      await page.locator(`.opblock-tag[data-tag="${tag}"]`).waitFor();
    }
    // No "default" group either: every operation is under a declared tag.
    const shown = await page.locator(".opblock-tag").evaluateAll((els) => els.map((e) => e.getAttribute("data-tag")));
    assert.deepEqual([...shown].sort(), [...want].sort());
    await page.screenshot({ path: `${artifacts}swagger-ui-overview.png` });
  });

  test("Authorize with a token from /auth/login, then Try it out on GET /auth/profile: 200 and the email", async () => {
    await page.locator(".auth-wrapper button.authorize").click();
    const modal = page.locator(".modal-ux");
    await modal.locator("#auth-bearer-value").fill(accessToken);
    await modal.locator("button.modal-btn.authorize").click();
    // Swagger UI's "authorized" state: the value is hidden and the button offers to log out.
    await modal.locator("button.modal-btn.auth", { hasText: "Logout" }).waitFor();
    await modal.locator("button.btn-done").click();

    const { status, body } = await tryProfile();
    assert.equal(status, "200");
    assert.ok(body.includes(email.toLowerCase()), `the response shows the email: ${body}`);
    assert.equal(profileAuthHeaders.at(-1), `Bearer ${accessToken}`);
    await page.screenshot({ path: `${artifacts}swagger-ui-authorized.png` });
  });

  test("after a reload the authorization is still there (persistAuthorization)", async () => {
    await page.reload({ waitUntil: "networkidle" });
    await page.locator(".information-container .info .title").waitFor();
    await page.locator(".auth-wrapper button.authorize.locked").waitFor();

    const { status, body } = await tryProfile();
    assert.equal(status, "200");
    assert.ok(body.includes(email.toLowerCase()), `the response shows the email: ${body}`);
    assert.equal(profileAuthHeaders.length, 2);
    assert.equal(profileAuthHeaders.at(-1), `Bearer ${accessToken}`);
    await page.screenshot({ path: `${artifacts}swagger-ui-after-reload.png` });
  });

  test("Try it out on listProducts with its pre-filled example values (q, tag, status, limit, sort): 200", async () => {
    const op = page.locator("#operations-products-listProducts");
    await op.locator(".opblock-summary").first().click();
    await op.locator("button.try-out__btn").click();
    // brandId has no example (it is the caller's own brand): the one value typed in. Every other
    // parameter keeps what Swagger UI pre-filled from openapi.yaml.
    await op.locator('tr[data-param-name="brandId"] input').fill(brandId);
    assert.equal(await op.locator('tr[data-param-name="q"] input').inputValue(), "shirt");
    assert.equal(await op.locator('tr[data-param-name="tag"] input').inputValue(), "summer");
    const listed = page.waitForResponse((r) => new URL(r.url()).pathname === `/brands/${brandId}/products`);
    await op.locator("button.execute").click();
    // Swagger UI checks every value against its schema (patterns with `new RegExp(pattern)`, no
    // `u` flag) before it sends anything: a refused example shows an error and no request.
    const row = op.locator(".live-responses-table .response").first();
    const refused = op.locator(".validation-errors");
    await row.or(refused).first().waitFor();
    if (await refused.isVisible()) {
      assert.fail(`Swagger UI refused its own pre-filled values: ${(await refused.innerText()).replace(/\s+/g, " ")}`);
    }
    const response = await listed;
    assert.equal(new URL(response.url()).searchParams.get("q"), "shirt");
    assert.equal((await row.locator(".response-col_status").innerText()).trim(), "200");
    const body = await row.locator(".response-col_description .microlight, .response-col_description pre").first().innerText();
    assert.ok(body.includes(summerShirtSku), `the page lists the product: ${body}`);
    await op.locator(".live-responses-table").scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${artifacts}swagger-ui-list-products.png` });
  });

  test("no request left localhost, and the page threw nothing", () => {
    assert.ok(requests.length > 0);
    assert.deepEqual(
      requests.filter((url) => !isLocal(url)),
      [],
    );
    assert.deepEqual(pageErrors, []);
  });
});
