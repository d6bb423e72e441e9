/**
 * The few protobuf wire-format pieces an ONNX file needs (encoding only): varints, 64-bit
 * integers, length-delimited bytes, strings and nested messages. Fields are written in the order
 * the caller adds them; protobuf readers accept any order.
 * https://protobuf.dev/programming-guides/encoding/
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** Accumulates one message's bytes. */
export class ProtoWriter {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.size += bytes.length;
  }

  private rawVarint(v: bigint): void {
    // int64 fields carry negative values as their 64-bit two's complement (10 bytes).
    let u = BigInt.asUintN(64, v);
    const out: number[] = [];
    do {
      let b = Number(u & 0x7fn);
      u >>= 7n;
      if (u !== 0n) b |= 0x80;
      out.push(b);
    } while (u !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  /** An int32/int64/enum/bool field. */
  int(field: number, v: number | bigint): this {
    if (typeof v === "number" && !Number.isSafeInteger(v))
      throw new RangeError(`protobuf field ${field}: ${v} is not an integer`);
    this.tag(field, WIRE_VARINT);
    this.rawVarint(BigInt(v));
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(BigInt(b.length));
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** The message's bytes (without its own tag and length). */
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
