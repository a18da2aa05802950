// A small gRPC-Web client written from the protocol (PROTOCOL-WEB.md in grpc/grpc):
// each message travels in a frame of one flag byte, a 4-byte big-endian length and the
// message; the last frame (flag 0x80) carries the trailers, grpc-status among them.
// With it, protobuf encoding for the few message shapes the page needs.
"use strict";

const GrpcWeb = (() => {
  const utf8 = new TextEncoder(), text = new TextDecoder();

  function varint(n) {
    const out = [];
    let v = BigInt(n);
    while (v > 127n) { out.push(Number(v & 127n) | 128); v >>= 7n; }
    out.push(Number(v));
    return out;
  }

  // fields: [[number, string], ...] -> protobuf bytes (wire type 2)
  function encodeStrings(fields) {
    const out = [];
    for (const [number, value] of fields) {
      if (!value) continue;
      const bytes = utf8.encode(value);
      out.push(...varint((number << 3) | 2), ...varint(bytes.length), ...bytes);
    }
    return new Uint8Array(out);
  }

  // protobuf bytes -> {number: value}; strings decoded, varints as Numbers
  function decode(bytes) {
    const fields = {};
    let pos = 0;
    const readVarint = () => {
      let result = 0n, shift = 0n;
      for (;;) {
        const b = bytes[pos++];
        if (b === undefined) throw new Error("truncated message");
        result |= BigInt(b & 127) << shift;
        if (!(b & 128)) return result;
        shift += 7n;
      }
    };
    while (pos < bytes.length) {
      const tag = Number(readVarint()), number = tag >> 3, wire = tag & 7;
      if (wire === 0) fields[number] = Number(readVarint());
      else if (wire === 2) {
        const len = Number(readVarint());
        fields[number] = text.decode(bytes.subarray(pos, pos + len));
        pos += len;
      } else throw new Error("unexpected wire type " + wire);
    }
    return fields;
  }

  function frame(message) {
    const out = new Uint8Array(5 + message.length);
    new DataView(out.buffer).setUint32(1, message.length);
    out.set(message, 5);
    return out;
  }

  class GrpcError extends Error {
    constructor(code, message) { super(message || "gRPC status " + code); this.code = code; }
  }

  function parseTrailers(bytes) {
    const trailers = {};
    for (const line of text.decode(bytes).split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return trailers;
  }

  function statusFrom(get) {
    const code = Number(get("grpc-status"));
    const message = decodeURIComponent(get("grpc-message") || "");
    return code ? new GrpcError(code, message) : null;
  }

  // Calls method with a request; onMessage gets each message's bytes, onOpen is called
  // once the response has begun. Resolves at the end of the call, rejects with
  // GrpcError for a non-OK status.
  async function call(method, request, onMessage, onOpen) {
    const response = await fetch("/" + method, {
      method: "POST", body: frame(request),
      headers: { ...headers, "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    });
    if (response.headers.get("grpc-status") !== null) {  // trailers-only
      const error = statusFrom((k) => response.headers.get(k));
      if (error) throw error;
      return;
    }
    if (!response.ok) throw new GrpcError(2, "HTTP " + response.status);
    if (onOpen) onOpen();
    const reader = response.body.getReader();
    let buffer = new Uint8Array(0);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new GrpcError(14, "the stream ended without a status");
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer); joined.set(value, buffer.length);
      buffer = joined;
      while (buffer.length >= 5) {
        const flag = buffer[0];
        const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
        if (buffer.length < 5 + length) break;
        const payload = buffer.slice(5, 5 + length);
        buffer = buffer.slice(5 + length);
        if (flag & 0x80) {
          const trailers = parseTrailers(payload);
          const error = statusFrom((k) => trailers[k]);
          if (error) throw error;
          return;
        }
        onMessage(payload);
      }
    }
  }

  // sent with every call (the page sets x-logway-csrf once signed in)
  const headers = {};

  return { call, encodeStrings, decode, GrpcError, headers };
})();
