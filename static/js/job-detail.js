// A job's detail view: a modal <dialog> with the job's times and attempts, its failed attempts with their
// errors, and the ids and times of the webhook delivery that created it (GET /api/jobs/<id>: never the payload).
// Focus moves to the dialog's Close button; Escape, Close or a click beside the dialog closes it, and focus
// returns to the control that opened it (`returnFocus(jobId)`: the row may have been rebuilt meanwhile).
import { badge, jobTitle, moment, text } from "./dom.js";

export class JobDetail {
  constructor({ dialog, title, body, closeButton, jobDetail, currentShop, returnFocus }) {
    Object.assign(this, { dialog, title, body, closeButton, jobDetail, currentShop, returnFocus });
    this.jobId = null;
    this.loading = false;
    this.loadAgain = false;
  }

  start() {
    this.closeButton.addEventListener("click", () => this.close());
    // The dialog's own box is the backdrop around its content: a click there closes it.
    this.dialog.addEventListener("click", (event) => {
      if (event.target === this.dialog) this.close();
    });
    this.dialog.addEventListener("close", () => this.onClosed());
  }

  get openJobId() {
    return this.dialog.open ? this.jobId : null;
  }

  open(jobId, job) {
    this.jobId = jobId;
    this.title.textContent = `${job ? jobTitle(job) : "Job"} (job ${jobId})`;
    this.body.replaceChildren(text("p", "subdued", "Loading…"));
    this.body.setAttribute("aria-busy", "true");
    if (!this.dialog.open) this.dialog.showModal();
    this.closeButton.focus();
    this.load();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** A live event changed the job on screen: read its detail again (one request at a time). */
  jobChanged(job) {
    if (this.openJobId === job.id) this.load();
  }

  async load() {
    if (this.loading) {
      this.loadAgain = true;
      return;
    }
    this.loading = true;
    const jobId = this.jobId;
    const shop = this.currentShop();
    try {
      const { shop: answered, data } = await this.jobDetail(jobId);
      if (this.openJobId === jobId && answered === shop && shop === this.currentShop()) this.render(data);
    } catch (error) {
      if (this.openJobId === jobId) {
        const reason = error.status === 404 ? `Job ${jobId} is not there any more.` :
          `Could not load job ${jobId}: ${error.detail || error.message}`;
        this.body.replaceChildren(text("p", "job-error", reason));
        this.body.removeAttribute("aria-busy");
      }
    } finally {
      this.loading = false;
      if (this.loadAgain) {
        this.loadAgain = false;
        if (this.openJobId !== null) this.load();
      }
    }
  }

  onClosed() {
    const jobId = this.jobId;
    this.jobId = null;
    this.body.replaceChildren();
    if (jobId !== null) this.returnFocus(jobId);
  }

  render(job) {
    this.title.textContent = `${jobTitle(job)} (job ${job.id})`;
    const delivery = job.delivery;
    this.body.replaceChildren(
      section("Job", facts([
        ["Kind", job.topic ? `${job.kind} (${job.topic})` : job.kind],
        ["State", badge(job.state)],
        ["Attempts", `${job.attempts} of ${job.max_attempts}`],
        ["Created", moment(job.created_at, "unknown")],
        ["First started", moment(job.started_at, "not yet")],
        ["Latest attempt started", moment(job.attempt_started_at, "not yet")],
        ["Finished", moment(job.finished_at, "not yet")],
        job.error ? ["Error", text("span", "job-error", job.error)] : ["Message", job.message || "—"],
      ])),
      section("Delivery", delivery ? facts([
        ["Topic", delivery.topic],
        ["Webhook id", code(delivery.webhook_id)],
        ["Event id", delivery.event_id ? code(delivery.event_id) : "not sent"],
        ["API version", delivery.api_version || "not sent"],
        ["Triggered", moment(delivery.triggered_at, "not sent")],
        ["Received", moment(delivery.received_at, "unknown")],
      ]) : text("p", "subdued", "Started from the app: no webhook delivery.")),
      section("Failed attempts", attempts(job.attempts_log)),
    );
    this.body.removeAttribute("aria-busy");
  }
}

function section(heading, content) {
  const el = document.createElement("section");
  el.className = "detail-section";
  el.append(text("h3", "", heading), content);
  return el;
}

/** A <dl> of [label, value] pairs; a value is text or a node. */
function facts(pairs) {
  const list = document.createElement("dl");
  list.className = "facts";
  for (const [label, value] of pairs) {
    const dd = document.createElement("dd");
    dd.append(value);
    list.append(text("dt", "", label), dd);
  }
  return list;
}

function code(value) {
  return text("code", "", value);
}

function attempts(log) {
  if (!log.length) return text("p", "subdued", "None.");
  const list = document.createElement("ol");
  list.className = "attempts";
  // "Retry" (one job, or all failed) counts attempts from 1 again: name each later round by its retry.
  let retry = 0;
  let previous = 0;
  for (const attempt of log) {
    if (attempt.attempt <= previous) retry += 1;
    previous = attempt.attempt;
    const name = retry ? `After retry ${retry}, attempt ${attempt.attempt}` : `Attempt ${attempt.attempt}`;
    const item = document.createElement("li");
    item.append(
      text("p", "attempt-title", `${name}: ${attempt.outcome}`),
      facts([
        ["Started", moment(attempt.started_at, "unknown")],
        ["Ended", moment(attempt.ended_at, "unknown")],
        ["Error", text("span", "job-error", attempt.error || "none given")],
      ]),
    );
    list.append(item);
  }
  return list;
}
