// The jobs dashboard: renders the shop's jobs, keeps them live over /ws/jobs, and offers the actions.
import { cancelJob, listJobs, retryJob, startJob } from "./api.js";
import { JobsSocket } from "./jobs-socket.js";
import { ACTIVE_STATES, JobsStore } from "./jobs-store.js";
import { getToken, shopFromToken } from "./session.js";

const STATE_LABELS = {
  queued: "Queued", running: "Running", retrying: "Retrying", succeeded: "Succeeded", failed: "Failed",
};
// Polaris badge tones (used when Polaris web components are loaded).
const STATE_TONES = { queued: "info", running: "info", retrying: "warning", succeeded: "success", failed: "critical" };
// Kinds a merchant can cancel while they run (webhook jobs are short and Shopify-driven).
const CANCELLABLE_KINDS = new Set(["sync_products"]);
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
      filter: $("state-filter"), sync: $("sync-products"), connection: $("connection"),
      connectionText: $("connection-text"), reconnectNow: $("reconnect-now"), notice: $("notice"),
      noticeText: $("notice-text"), announcer: $("announcer"),
    };
  }

  start() {
    this.el.filter.addEventListener("change", () => this.setFilter(this.el.filter.value));
    this.el.showAll.addEventListener("click", () => this.setFilter(""));
    this.el.sync.addEventListener("click", () => this.startSync());
    this.el.reconnectNow.addEventListener("click", () => this.socket.reconnectNow());
    $("notice-dismiss").addEventListener("click", () => this.hideNotice());
    this.el.body.addEventListener("click", (event) => this.onRowAction(event));
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
    this.render();
  }

  onSnapshot(jobs, seq) {
    this.root.dataset.seq = String(seq); // the event seq the screen is current at (diagnostics, tests)
    this.store.replaceAll(jobs);
    this.loaded = true;
    this.render();
    if (this.filter) this.loadFiltered(this.filter);
  }

  onJob(job, seq) {
    this.root.dataset.seq = String(seq);
    const previous = this.store.applyEvent(job);
    this.renderJob(job);
    if (!previous || previous.state !== job.state) this.announce(job);
  }

  async loadFiltered(state) {
    // The snapshot holds the latest jobs; older jobs in this state come from the API.
    try {
      const { shop, data } = await listJobs(state);
      if (shop !== this.shop) return;
      let changed = false;
      for (const job of data.jobs) changed = this.store.merge(job) || changed;
      if (changed) this.render();
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

  async startSync() {
    const button = this.el.sync;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      const { shop, data } = await startJob("sync_products");
      if (shop === this.shop && this.store.merge(data)) this.renderJob(data);
      this.toast("Product sync started");
    } catch (error) {
      this.showNotice(`Could not start the product sync: ${error.detail}`);
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
        : "No jobs yet. Jobs appear here as soon as Shopify sends a webhook, or when you start one with “Sync products”.";
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
      this.fillRow(row, job);
      if (row === cursor) cursor = cursor.nextElementSibling;
      else this.el.body.insertBefore(row, cursor);
    }
  }

  renderJob(job) {
    const row = this.rowOf(job.id);
    const visible = !this.filter || job.state === this.filter;
    if (row && visible) this.fillRow(row, job);
    else this.render();
  }

  rowOf(id) {
    return this.el.body.querySelector(`tr[data-job-id="${CSS.escape(String(id))}"]`);
  }

  fillRow(row, job) {
    row.dataset.state = job.state;
    if (job.webhook_id) row.dataset.webhookId = job.webhook_id;
    const title = job.topic || job.kind.replace(/_/g, " ");
    const origin = job.kind === "webhook" ? "webhook" : "started from the app";
    const details = job.state === "failed" && job.error ? job.error : job.message || "";
    const focused = row.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    row.replaceChildren(
      cell("Job", [group(text("span", "job-title", title), text("span", "subdued job-id", `#${job.id} · ${origin}`))]),
      cell("State", [badge(job.state)]),
      cell("Progress", [progress(job, title)]),
      cell("Attempts", [document.createTextNode(String(job.attempts))]),
      cell("Age", [age(job.created_at)]),
      cell("Details", [details
        ? text("span", job.state === "failed" ? "job-error" : "job-message", details)
        : text("span", "subdued", "—")]),
      cell("Actions", actions(job, title), "actions"),
    );
    // Rebuilding the row must not throw keyboard focus back to the top of the page.
    if (focused) {
      const again = row.querySelector(`button[data-action="${focused}"]`);
      if (again) again.focus();
    }
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
    this.announcements.push(`Job ${job.id}, ${job.topic || job.kind}: ${STATE_LABELS[job.state].toLowerCase()}.`);
    clearTimeout(this.announceTimer);
    // Batch bursts so a screen reader hears one sentence, not fifty.
    this.announceTimer = setTimeout(() => {
      const items = this.announcements.splice(0);
      this.el.announcer.textContent = items.length > 3 ? `${items.length} jobs changed state.` : items.join(" ");
    }, 500);
  }
}

// --- small DOM builders -------------------------------------------------------------------------

function text(tag, className, content) {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = content;
  return el;
}

function group(...children) {
  const el = document.createElement("div");
  el.append(...children);
  return el;
}

function cell(label, children, className = "") {
  const td = document.createElement("td");
  td.setAttribute("role", "cell");
  td.dataset.label = label;
  if (className) td.className = className;
  td.append(...children);
  return td;
}

function badge(state) {
  // Polaris' <s-badge> when Polaris web components are loaded; a styled span otherwise (dev mode).
  const polaris = window.customElements && window.customElements.get("s-badge");
  const el = document.createElement(polaris ? "s-badge" : "span");
  if (polaris) el.setAttribute("tone", STATE_TONES[state] || "neutral");
  // Polaris draws its own badge; the `badge` classes are the look without it.
  el.className = polaris ? "state-badge" : `badge badge-${state}`;
  el.textContent = STATE_LABELS[state] || state;
  return el;
}

function progress(job, title) {
  if (job.state !== "running") return text("span", "subdued", ACTIVE_STATES.has(job.state) ? "waiting" : "—");
  const bar = document.createElement("progress");
  bar.max = 100;
  bar.value = Math.max(0, Math.min(100, job.progress || 0));
  bar.setAttribute("aria-label", `Progress of job ${job.id} (${title})`);
  const wrap = document.createElement("span");
  wrap.className = "progress";
  wrap.append(bar, text("span", "progress-value", `${bar.value}%`));
  return wrap;
}

function age(iso) {
  const el = document.createElement("time");
  el.dateTime = iso;
  el.title = new Date(iso).toLocaleString();
  el.textContent = ageText(iso);
  return el;
}

function ageText(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

function actions(job, title) {
  const buttons = [];
  if (job.state === "failed") buttons.push(actionButton("retry", "Retry", `Retry job ${job.id} (${title})`));
  if (CANCELLABLE_KINDS.has(job.kind) && ACTIVE_STATES.has(job.state)) {
    buttons.push(actionButton("cancel", "Cancel", `Cancel job ${job.id} (${title})`));
  }
  return buttons;
}

function actionButton(action, label, ariaLabel) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button";
  button.dataset.action = action;
  button.textContent = label;
  button.setAttribute("aria-label", ariaLabel);
  return button;
}

// The admin hands the first token over in the URL; keep it out of the address bar, history and any
// link the merchant copies (a reload without it goes through the bounce page and gets a fresh one).
const address = new URL(window.location.href);
if (address.searchParams.has("id_token")) {
  address.searchParams.delete("id_token");
  window.history.replaceState(window.history.state, "", address.pathname + address.search + address.hash);
}

new Dashboard($("dashboard")).start();
