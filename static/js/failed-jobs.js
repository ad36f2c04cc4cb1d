// The failed-jobs summary: how many of the shop's jobs failed, kept true live, and "Retry all failed".
// - the count comes from GET /api/jobs/counts: at load (each snapshot) and after job events that may move a
//   job into or out of `failed`, at most one request per `minIntervalMs` and one at a time;
// - "Retry all failed" sends one POST /api/jobs/retry-failed at a time: a click while one runs does nothing;
// - the button stays focusable when it cannot act (`aria-disabled`), so keyboard focus is never lost.
import { count } from "./dom.js";

export class FailedJobs {
  constructor({ countEl, button, status, countJobs, retryFailedJobs, currentShop, onRetried, minIntervalMs = 1000 }) {
    Object.assign(this, { countEl, button, status, countJobs, retryFailedJobs, currentShop, onRetried, minIntervalMs });
    this.failed = null; // unknown until the first answer
    this.inFlight = false;
    this.fetching = false;
    this.fetchAgain = false;
    this.lastFetchAt = -Infinity;
    this.timer = null;
  }

  start() {
    this.button.addEventListener("click", () => this.retryAll());
    this.render();
  }

  /** Another shop is on screen: its count is unknown until fetched. */
  reset() {
    this.failed = null;
    this.status.textContent = "";
    this.render();
  }

  /**
   * A live event changed `job` (`previous`: what the page held, or null). Leaving or entering `failed` changes
   * the count; so may a job the page did not hold (e.g. an old failed job that "Retry all failed" retried).
   */
  jobChanged(previous, job) {
    if (!previous || (previous.state === "failed") !== (job.state === "failed")) this.refresh();
  }

  /** Ask for a fresh count: at most one request per `minIntervalMs`; a request asked for meanwhile follows. */
  refresh() {
    if (this.timer !== null) return; // the scheduled request will read the newest count anyway
    const wait = Math.max(0, this.lastFetchAt + this.minIntervalMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.fetchCount();
    }, wait);
  }

  async fetchCount() {
    if (this.fetching) {
      this.fetchAgain = true; // answered after this one, so it cannot be overtaken by an older count
      return;
    }
    this.fetching = true;
    this.lastFetchAt = Date.now();
    try {
      const { shop, data } = await this.countJobs();
      if (shop === this.currentShop()) this.failed = data.failed;
    } catch (_error) {
      // Keep what is shown; the next event or snapshot asks again.
    } finally {
      this.fetching = false;
      this.render();
      if (this.fetchAgain) {
        this.fetchAgain = false;
        this.refresh();
      }
    }
  }

  async retryAll() {
    if (this.inFlight || !this.failed) return;
    this.inFlight = true;
    this.render();
    try {
      const { shop, data } = await this.retryFailedJobs();
      if (shop !== this.currentShop()) return;
      this.onRetried(data.jobs);
      this.failed = data.remaining;
      const queued = data.retried ? `${count(data.retried, "job")} queued again.` : "No failed jobs to retry.";
      this.status.textContent = data.remaining > 0
        ? `${queued} ${count(data.remaining, "more failed job")}: click again.`
        : queued;
    } catch (error) {
      this.status.textContent = `Could not retry the failed jobs: ${error.detail || error.message}`;
    } finally {
      this.inFlight = false;
      this.render();
      this.refresh();
    }
  }

  render() {
    const failed = this.failed;
    this.countEl.dataset.count = failed === null ? "" : String(failed);
    this.countEl.textContent = failed === null ? "Counting failed jobs…"
      : failed === 0 ? "No failed jobs" : count(failed, "failed job");
    const idle = !this.inFlight && Boolean(failed);
    this.button.setAttribute("aria-disabled", String(!idle));
    if (this.inFlight) this.button.setAttribute("aria-busy", "true");
    else this.button.removeAttribute("aria-busy");
  }
}
