/**
 * A min-heap of (due time, lease id). Entries are never removed in place: a renewal or a revoke
 * just changes the owner's map, and stale entries are skipped when they surface. That keeps
 * register/renew O(log n) with one timer for the whole table.
 */
export interface Due {
  at: number;
  id: string;
}

export class DueQueue {
  #h: Due[] = [];

  get size(): number {
    return this.#h.length;
  }

  push(d: Due): void {
    const h = this.#h;
    h.push(d);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= d.at) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = d;
  }

  peek(): Due | undefined {
    return this.#h[0];
  }

  pop(): Due | undefined {
    const h = this.#h;
    const top = h[0];
    const last = h.pop();
    if (h.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.at < h[l]!.at ? r : l;
      if (h[c]!.at >= last.at) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
    return top;
  }

  /** Rebuilds from the live entries only (drops what renewals and revokes left behind). */
  rebuild(live: Iterable<Due>): void {
    this.#h = [];
    for (const d of live) this.push(d);
  }
}
