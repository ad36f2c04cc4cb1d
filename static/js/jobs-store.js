// The jobs on screen, by id. Socket events are applied in seq order as they come; answers of the HTTP
// API (which may be older than an event already applied) only replace a job when they are newer.

export const STATES = ["queued", "running", "retrying", "succeeded", "failed"];
export const ACTIVE_STATES = new Set(["queued", "running", "retrying"]);

const time = (iso) => {
  const value = Date.parse(iso);
  return Number.isNaN(value) ? 0 : value;
};

export class JobsStore {
  constructor({ maxJobs = 500 } = {}) {
    this.maxJobs = maxJobs;
    this.jobs = new Map();
  }

  /** Forget everything (another shop, or a fresh snapshot). */
  clear() {
    this.jobs.clear();
  }

  /** Replace the whole list with a snapshot. */
  replaceAll(jobs) {
    this.jobs.clear();
    for (const job of jobs) this.jobs.set(job.id, job);
    this._trim();
  }

  /** Apply a live event (authoritative: events arrive in seq order). Returns the previous job or null. */
  applyEvent(job) {
    const previous = this.jobs.get(job.id) || null;
    this.jobs.set(job.id, job);
    this._trim();
    return previous;
  }

  /** Merge a job from an API answer unless what we hold is as new or newer. Returns true if it changed. */
  merge(job) {
    const current = this.jobs.get(job.id);
    if (current && time(current.updated_at) >= time(job.updated_at)) return false;
    this.jobs.set(job.id, job);
    this._trim();
    return true;
  }

  get(id) {
    return this.jobs.get(id) || null;
  }

  /** Jobs newest first, optionally only those in `state`. */
  list(state = "") {
    const jobs = [...this.jobs.values()].filter((job) => !state || job.state === state);
    return jobs.sort((a, b) => time(b.created_at) - time(a.created_at) || b.id - a.id);
  }

  _trim() {
    if (this.jobs.size <= this.maxJobs) return;
    const newestFirst = this.list();
    for (const job of newestFirst.slice(this.maxJobs)) this.jobs.delete(job.id);
  }
}
