const crypto = require("crypto");

// True when the request comes from us: a v1 signature matches the raw body (a Buffer) and t is recent.
function verifyWebhook(secret, signatureHeader, rawBody, toleranceSeconds = 300) {
  let timestamp = null;
  const signatures = [];
  for (const part of String(signatureHeader || "").split(",")) {
    const [name, value = ""] = part.trim().split("=");
    if (name === "t" && /^\d+$/.test(value)) timestamp = Number(value);
    else if (name === "v1") signatures.push(value);
  }
  if (timestamp === null || Math.abs(Date.now() / 1000 - timestamp) > toleranceSeconds) return false;
  const expected = crypto.createHmac("sha256", secret).update(`${timestamp}.`).update(rawBody).digest();
  return signatures.some((signature) => {
    const given = Buffer.from(signature, "hex");
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

module.exports = { verifyWebhook };
