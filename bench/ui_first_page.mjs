// The web UI's first page on loopback, in Debian's chromium: from navigation to the sign-in form
// usable, then (signed in) to the overview listing a project; 7 loads, median and best.
// usage: node bench/ui_first_page.mjs URL TOKEN
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../ui/package.json"));
const { chromium } = require("playwright-core");
const [url, token] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking"],
});
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const signIn = [];
const overview = [];
for (let i = 0; i < 7; i++) {
  const context = await browser.newContext(); // a cold cache each time
  const page = await context.newPage();
  let t = Date.now();
  await page.goto(url + "/");
  await page.getByLabel("API token").waitFor();
  signIn.push(Date.now() - t);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator(".project").first().waitFor();
  t = Date.now();
  await page.reload();
  await page.locator(".project").first().waitFor();
  overview.push(Date.now() - t);
  await context.close();
}
await browser.close();
console.log(`first page (sign-in form usable), cold cache: median ${median(signIn)} ms, best ${Math.min(...signIn)} ms`);
console.log(`overview with its project, signed in, reload: median ${median(overview)} ms, best ${Math.min(...overview)} ms`);
