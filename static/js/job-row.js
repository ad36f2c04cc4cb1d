// One row of the jobs table: the job's name (its details control), state, progress, attempts, age, details
// and actions. Rows are rebuilt in place on every change; the control that had focus keeps it.
import { age, badge, group, jobTitle, text } from "./dom.js";
import { ACTIVE_STATES } from "./jobs-store.js";

// Kinds a merchant can cancel while they run (webhook jobs are short and Shopify-driven).
const CANCELLABLE_KINDS = new Set(["sync_products", "reconcile"]);

/** Fill `row` (a <tr data-job-id>) with `job`'s cells. */
export function fillRow(row, job) {
  row.dataset.state = job.state;
  if (job.webhook_id) row.dataset.webhookId = job.webhook_id;
  const title = jobTitle(job);
  const origin = job.kind === "webhook" ? "webhook" : "started from the app";
  const details = job.state === "failed" && job.error ? job.error : job.message || "";
  const focused = row.contains(document.activeElement) ? document.activeElement.dataset.action : null;
  row.replaceChildren(
    cell("Job", [group(detailsButton(job, title), text("span", "subdued job-id", `#${job.id} · ${origin}`))]),
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

function cell(label, children, className = "") {
  const td = document.createElement("td");
  td.setAttribute("role", "cell");
  td.dataset.label = label;
  if (className) td.className = className;
  td.append(...children);
  return td;
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

function actions(job, title) {
  const buttons = [];
  if (job.state === "failed") buttons.push(actionButton("retry", "Retry", `Retry job ${job.id} (${title})`));
  if (CANCELLABLE_KINDS.has(job.kind) && ACTIVE_STATES.has(job.state)) {
    buttons.push(actionButton("cancel", "Cancel", `Cancel job ${job.id} (${title})`));
  }
  return buttons;
}

function detailsButton(job, title) {
  const button = actionButton("details", title, `Details of job ${job.id} (${title})`);
  button.className = "job-title button-link";
  button.setAttribute("aria-haspopup", "dialog");
  return button;
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
