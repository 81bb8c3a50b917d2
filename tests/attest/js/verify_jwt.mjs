// Verify an EAR JWT with npm `jose`, given only the verifier's published key set (JWKS):
// the relying party's view from another language. Usage: node verify_jwt.mjs JWKS_FILE JWT_FILE
// Prints the verified claims as JSON; exits 1 with the library's error when it does not verify.
import { readFileSync } from "node:fs";
import { createLocalJWKSet, jwtVerify } from "jose";

const [jwksFile, jwtFile] = process.argv.slice(2);
const jwks = createLocalJWKSet(JSON.parse(readFileSync(jwksFile, "utf8")));
const token = readFileSync(jwtFile, "utf8").trim();
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    algorithms: ["ES256", "EdDSA", "Ed25519"],
  });
  process.stdout.write(JSON.stringify({ header: protectedHeader, claims: payload }));
} catch (err) {
  process.stderr.write(`${err.code ?? "error"}: ${err.message}\n`);
  process.exit(1);
}
