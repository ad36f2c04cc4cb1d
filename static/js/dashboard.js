// The jobs dashboard: renders the shop's jobs, keeps them live over /ws/jobs, and offers the actions.
import { cancelJob, countJobs, jobDetail, listJobs, retryFailedJobs, retryJob, startJob } from "./api.js";
import { STATE_LABELS, ageText, jobTitle } from "./dom.js";
import { FailedJobs } from "./failed-jobs.js";
import { JobDetail } from "./job-detail.js";
import { fillRow } from "./job-row.js";
import { JobsSocket } from "./jobs-socket.js";
import { JobsStore } from "./jobs-store.js";
import { getToken, shopFromToken } from "./session.js";

// What the toast and an error say for each kind a page button starts (`data-start-kind` in the template).
const STARTED = {
  sync_products: { toast: "Product sync started", what: "the product sync" },
  reconcile: { toast: "Catch-up started", what: "the catch-up" },
};
const AGE_REFRESH_MS = 15000;

const $ = (id) => document.getElementById(id);

class Dashboard {
  constructor(root) {
    this.root = root;
    this.shop = root.dataset.shop; // verified by the server for this document
    this.store = new JobsStore();
    this.filter = "";
    this.loaded = false;
    this.announcements = [];
    this.el = {
      body: $("jobs-body"), table: $("jobs-table"), region: $("jobs-region"), loading: $("jobs-loading"),
      empty: $("jobs-empty"), emptyText: $("jobs-empty-text"), showAll: $("show-all"),
      filter: $("state-filter"), connection: $("connection"),
      connectionText: $("connection-text"), reconnectNow: $("reconnect-now"), notice: $("notice"),
      noticeText: $("notice-text"), announcer: $("announcer"),
    };
  }

  start() {
    this.el.filter.addEventListener("change", () => this.setFilter(this.el.filter.value));
    this.el.showAll.addEventListener("click", () => this.setFilter(""));
    for (const button of document.querySelectorAll("button[data-start-kind]")) {
      button.addEventListener("click", () => this.startKind(button));
    }
    this.el.reconnectNow.addEventListener("click", () => this.socket.reconnectNow());
    $("notice-dismiss").addEventListener("click", () => this.hideNotice());
    this.el.body.addEventListener("click", (event) => this.onRowAction(event));
    const currentShop = () => this.shop;
    this.failed = new FailedJobs({
      countEl: $("failed-count"), button: $("retry-failed"), status: $("retry-failed-status"), countJobs,
      retryFailedJobs, currentShop, onRetried: (jobs) => this.mergeJobs(jobs),
    });
    this.failed.start();
    this.detail = new JobDetail({
      dialog: $("job-detail"), title: $("job-detail-title"), body: $("job-detail-body"),
      closeButton: $("job-detail-close"), jobDetail, currentShop, returnFocus: (id) => this.focusDetails(id),
    });
    this.detail.start();
    const wsUrl = `${window.location.protocol === "https:" ? "wss:" : "ws:"}//${window.location.host}/ws/jobs`;
    this.socket = new JobsSocket({
      url: wsUrl,
      getToken,
      shopFromToken,
      onSnapshot: (jobs, seq) => this.onSnapshot(jobs, seq),
      onJob: (job, seq) => this.onJob(job, seq),
      onStatus: (status) => this.showConnection(status),
      onShopChange: (shop) => this.onShopChange(shop),
    });
    this.socket.start();
    window.addEventListener("online", () => this.socket.reconnectNow());
    setInterval(() => this.refreshAges(), AGE_REFRESH_MS);
    this.render();
  }

  // --- data -------------------------------------------------------------------------------------

  onShopChange(shop) {
    if (shop === this.shop) return;
    // Never show one shop's jobs under another: forget everything and wait for the new snapshot.
    this.shop = shop;
    this.root.dataset.shop = shop;
    $("shop-name").textContent = shop;
    delete this.root.dataset.seq;
    this.store.clear();
    this.loaded = false;
    this.detail.close();
    this.failed.reset();
    this.render();
  }

  onSnapshot(jobs, seq) {
    this.root.dataset.seq = String(seq); // the event seq the screen is current at (diagnostics, tests)
    this.store.replaceAll(jobs);
    this.loaded = true;
    this.render();
    this.failed.refresh(); // the snapshot may follow missed events: count again
    if (this.filter) this.loadFiltered(this.filter);
  }

  onJob(job, seq) {
    this.root.dataset.seq = String(seq);
    const previous = this.store.applyEvent(job);
    this.renderJob(job);
    this.failed.jobChanged(previous, job);
    this.detail.jobChanged(job);
    if (!previous || previous.state !== job.state) this.announce(job);
  }

  /** Jobs from an API answer: shown unless the page already holds a newer state of them. */
  mergeJobs(jobs) {
    let changed = false;
    for (const job of jobs) changed = this.store.merge(job) || changed;
    if (changed) this.render();
  }

  async loadFiltered(state) {
    // The snapshot holds the latest jobs; older jobs in this state come from the API.
    try {
      const { shop, data } = await listJobs(state);
      if (shop === this.shop) this.mergeJobs(data.jobs);
    } catch (error) {
      this.showNotice(`Could not load ${state} jobs: ${error.detail || error.message}`);
    }
  }

  // --- actions ----------------------------------------------------------------------------------

  setFilter(state) {
    this.filter = state;
    this.el.filter.value = state;
    this.render();
    if (state && this.loaded) this.loadFiltered(state);
  }

  async startKind(button) {
    const kind = button.dataset.startKind;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const { shop, data } = await startJob(kind);
      if (shop === this.shop && this.store.merge(data)) this.renderJob(data);
      this.toast(STARTED[kind].toast);
    } catch (error) {
      this.showNotice(`Could not start ${STARTED[kind].what}: ${error.detail}`);
    } finally {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }

  async onRowAction(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const id = Number(button.closest("tr").dataset.jobId);
    const action = button.dataset.action;
    if (action === "details") {
      this.detail.open(id, this.store.get(id));
      return;
    }
    button.disabled = true;
    try {
      const { shop, data } = await (action === "retry" ? retryJob(id) : cancelJob(id));
      if (shop === this.shop && this.store.merge(data)) this.renderJob(data);
      this.toast(action === "retry" ? `Job ${id} queued again` : `Cancelling job ${id}`);
    } catch (error) {
      button.disabled = false;
      this.showNotice(`Could not ${action} job ${id}: ${error.detail}`);
    }
  }

  // --- rendering --------------------------------------------------------------------------------

  render() {
    const jobs = this.store.list(this.filter);
    this.el.region.setAttribute("aria-busy", String(!this.loaded));
    this.el.loading.hidden = this.loaded;
    this.el.table.hidden = !this.loaded || jobs.length === 0;
    this.el.empty.hidden = !this.loaded || jobs.length > 0;
    if (this.loaded && jobs.length === 0) {
      this.el.emptyText.textContent = this.uninstalled
        ? "shopapp is not installed on this shop any more."
        : this.filter
        ? `No ${STATE_LABELS[this.filter].toLowerCase()} jobs right now.`
        : "No jobs yet. Jobs appear here as soon as Shopify sends a webhook, or when you start one with “Sync products” or “Catch up now”.";
      this.el.showAll.hidden = !this.filter;
      const devHint = $("jobs-empty-dev");
      if (devHint) devHint.hidden = Boolean(this.filter);
    }
    // Keyed update: rows that still exist are updated in place, so focus stays on their buttons.
    const wanted = new Set(jobs.map((job) => String(job.id)));
    for (const row of [...this.el.body.rows]) if (!wanted.has(row.dataset.jobId)) row.remove();
    let cursor = this.el.body.firstElementChild;
    for (const job of jobs) {
      let row = this.rowOf(job.id);
      if (!row) {
        row = document.createElement("tr");
        row.setAttribute("role", "row");
        row.dataset.jobId = String(job.id);
      }
      fillRow(row, job);
      if (row === cursor) cursor = cursor.nextElementSibling;
      else this.el.body.insertBefore(row, cursor);
    }
  }

  renderJob(job) {
    const row = this.rowOf(job.id);
    const visible = !this.filter || job.state === this.filter;
    if (row && visible) fillRow(row, job);
    else this.render();
  }

  rowOf(id) {
    return this.el.body.querySelector(`tr[data-job-id="${CSS.escape(String(id))}"]`);
  }

  /** Focus back on a job's details control after its detail view closed (the list, if the row is gone). */
  focusDetails(id) {
    const row = this.rowOf(id);
    const control = row && row.querySelector('button[data-action="details"]');
    (control || $("jobs-heading")).focus();
  }

  refreshAges() {
    for (const el of this.el.body.querySelectorAll("time[datetime]")) el.textContent = ageText(el.dateTime);
  }

  // --- status and messages ----------------------------------------------------------------------

  showConnection({ status, delayMs, authFailures }) {
    const el = this.el;
    el.connection.dataset.status = status;
    el.reconnectNow.hidden = status !== "reconnecting";
    if (status === "live") {
      el.connectionText.textContent = "Live: updates appear as they happen.";
    } else if (status === "uninstalled") {
      el.connectionText.textContent = "shopapp was uninstalled from this shop. Reinstall it from your Shopify admin to see jobs again.";
      this.uninstalled = true;
      this.store.clear();
      this.loaded = true;
      this.render();
    } else if (status === "reconnecting" && authFailures >= 3) {
      el.connectionText.textContent = "Your session could not be verified. Reload shopapp from your Shopify admin.";
    } else if (status === "reconnecting") {
      const seconds = Math.max(1, Math.round(delayMs / 1000));
      el.connectionText.textContent = `Connection lost; reconnecting in ${seconds} s. Updates missed meanwhile will be caught up.`;
      if (!this.loaded) el.loading.textContent = "Can't reach shopapp yet; retrying automatically. You can also press “Retry now”.";
    }
  }

  showNotice(message) {
    this.el.noticeText.textContent = message;
    this.el.notice.hidden = false;
  }

  hideNotice() {
    this.el.notice.hidden = true;
  }

  toast(message) {
    if (window.shopify && window.shopify.toast) window.shopify.toast.show(message);
  }

  announce(job) {
    if (!["succeeded", "failed", "retrying"].includes(job.state)) return;
    this.announcements.push(`Job ${job.id}, ${jobTitle(job)}: ${STATE_LABELS[job.state].toLowerCase()}.`);
    clearTimeout(this.announceTimer);
    // Batch bursts so a screen reader hears one sentence, not fifty.
    this.announceTimer = setTimeout(() => {
      const items = this.announcements.splice(0);
      this.el.announcer.textContent = items.length > 3 ? `${items.length} jobs changed state.` : items.join(" ");
    }, 500);
  }
}

// The admin hands the first token over in the URL; keep it out of the address bar, history and any
// link the merchant copies (a reload without it goes through the bounce page and gets a fresh one).
const address = new URL(window.location.href);
if (address.searchParams.has("id_token")) {
  address.searchParams.delete("id_token");
  window.history.replaceState(window.history.state, "", address.pathname + address.search + address.hash);
}

new Dashboard($("dashboard")).start();
