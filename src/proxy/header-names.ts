/**
 * A set of header names, exact and by prefix (lower-case), that can also be asked of a raw header
 * name (undici's Buffer) by its first byte: a name whose first letter no entry starts with is
 * skipped before it is made a string, which is most of an answer's headers (content-type, date,
 * connection, keep-alive, server…) for a set such as relay-json.ts's rate-limit and request-id
 * headers.
 */
export class HeaderNames {
  private readonly names: ReadonlySet<string>;
  private readonly prefixes: readonly string[];
  /** 1 at each byte an entry can start with, either case. */
  private readonly firstBytes = new Uint8Array(256);

  constructor(names: readonly string[], prefixes: readonly string[] = []) {
    this.names = new Set(names);
    this.prefixes = prefixes;
    for (const n of [...names, ...prefixes]) {
      this.firstBytes[n.charCodeAt(0)] = 1;
      this.firstBytes[n.toUpperCase().charCodeAt(0)] = 1;
    }
  }

  /** Whether a lower-case name is in the set. */
  has(name: string): boolean {
    if (this.names.has(name)) return true;
    for (let i = 0; i < this.prefixes.length; i++) if (name.startsWith(this.prefixes[i])) return true;
    return false;
  }

  /** Whether a raw name may be in the set (false: it is not). */
  mayHave(raw: Uint8Array): boolean {
    return raw.length > 0 && this.firstBytes[raw[0]] === 1;
  }
}
