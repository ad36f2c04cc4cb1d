// Small DOM builders and labels shared by the jobs table, the failed-jobs summary and the detail view.
// Everything is built with createElement/textContent: the page inserts no markup (see README, Security).

export const STATE_LABELS = {
  queued: "Queued", running: "Running", retrying: "Retrying", succeeded: "Succeeded", failed: "Failed",
};
// Polaris badge tones (used when Polaris web components are loaded).
const STATE_TONES = { queued: "info", running: "info", retrying: "warning", succeeded: "success", failed: "critical" };
// What a merchant reads for a kind they started; others read as their name ("sync_products" → "sync products").
const KIND_TITLES = { reconcile: "catch up" };

/** The job's name as the page shows it: a webhook's topic, else its kind. */
export function jobTitle(job) {
  return job.topic || KIND_TITLES[job.kind] || job.kind.replace(/_/g, " ");
}

/** "1 job", "3 jobs" (`plural` for irregular words). */
export function count(n, singular, plural = `${singular}s`) {
  return `${n} ${n === 1 ? singular : plural}`;
}

export function text(tag, className, content) {
  const el = document.createElement(tag);
  el.className = className;
  el.textContent = content;
  return el;
}

export function group(...children) {
  const el = document.createElement("div");
  el.append(...children);
  return el;
}

export function badge(state) {
  // Polaris' <s-badge> when Polaris web components are loaded; a styled span otherwise (dev mode).
  const polaris = window.customElements && window.customElements.get("s-badge");
  const el = document.createElement(polaris ? "s-badge" : "span");
  if (polaris) el.setAttribute("tone", STATE_TONES[state] || "neutral");
  // Polaris draws its own badge; the `badge` classes are the look without it.
  el.className = polaris ? "state-badge" : `badge badge-${state}`;
  el.textContent = STATE_LABELS[state] || state;
  return el;
}

/** A <time> reading "2 min ago" (kept fresh by the caller with `ageText`), the exact time as its title. */
export function age(iso) {
  const el = document.createElement("time");
  el.dateTime = iso;
  el.title = new Date(iso).toLocaleString();
  el.textContent = ageText(iso);
  return el;
}

export function ageText(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 10) return "just now";
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** A <time> with the exact moment in the merchant's locale, or `absent` ("not yet") as plain text. */
export function moment(iso, absent) {
  if (!iso) return text("span", "subdued", absent);
  const el = document.createElement("time");
  el.dateTime = iso;
  el.textContent = new Date(iso).toLocaleString();
  return el;
}
