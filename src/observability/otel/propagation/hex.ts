/**
 * Id conversions shared by the extractors and injectors. Kong keeps ids as bytes and sizes them
 * with `to_id_size` (kong/observability/tracing/propagation/utils.lua): a longer id keeps its LAST
 * bytes, a shorter one is left-padded with zero bytes, and an odd number of hex digits gets a
 * leading 0 first (`from_hex`). These functions do the same on hex strings.
 */

const HEX = /^[0-9a-fA-F]+$/;
const DEC = /^[0-9]+$/;
const ZERO = /^0+$/;
const PAD = '0'.repeat(64);

/** Some hex digits (either case), nothing else. */
export function isHex(s: string): boolean {
  return HEX.test(s);
}

/** Some decimal digits, nothing else. */
export function isDec(s: string): boolean {
  return DEC.test(s);
}

/** Whether a hex id is all zeros (invalid in every format). */
export function isZero(hex: string): boolean {
  return ZERO.test(hex);
}

/** Bytes a hex string stands for, as Kong's from_hex counts them (an odd digit count rounds up). */
export function hexBytes(hex: string): number {
  return (hex.length + 1) >> 1;
}

/** A hex id sized to `bytes` bytes (2×bytes lower-case digits): the last bytes kept, or zeros in front. */
export function toIdSize(hex: string, bytes: number): string {
  const digits = bytes * 2;
  if (hex.length & 1) hex = `0${hex}`;
  if (hex.length > digits) return hex.slice(hex.length - digits).toLowerCase();
  if (hex.length < digits) hex = PAD.slice(0, digits - hex.length) + hex;
  return hex.toLowerCase();
}

/** A decimal id (Datadog's ids, GCP's span id) as minimal hex, as Kong's bn.from_dec():to_binary() has it. */
export function decToHex(dec: string): string {
  const v = BigInt(dec);
  if (v === 0n) return '';
  const hex = v.toString(16);
  return hex.length & 1 ? `0${hex}` : hex;
}

/** A hex id as an unsigned decimal. */
export function hexToDec(hex: string): string {
  return BigInt(`0x${hex}`).toString(10);
}
