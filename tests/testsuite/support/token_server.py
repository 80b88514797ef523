"""A registry token server for the tests (docker's token spec): GET /token?service=&scope=
answers a short-lived ES256 JWT, signed with a key whose self-signed certificate the
registry trusts (rootcertbundle), for the scopes asked, when Basic auth names USER:PASSWORD.
Prints its port, then serves until killed. Counts tokens issued in DIR/issued."""
import base64, datetime, http.server, json, os, sys, time, urllib.parse
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

directory, user, password, lifetime = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-token-issuer")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
open(os.path.join(directory, "token.pem"), "wb").write(cert.public_bytes(serialization.Encoding.PEM))
der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()

def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def token(scopes):
    access = []
    for s in scopes:
        kind, repo, actions = s.split(":")
        access.append({"type": kind, "name": repo, "actions": actions.split(",")})
    t = int(time.time())
    claims = {"iss": "test-issuer", "sub": user, "aud": "test-registry", "exp": t + lifetime,
              "nbf": t - 10, "iat": t, "jti": str(time.time_ns()), "access": access}
    head = b64(json.dumps({"typ": "JWT", "alg": "ES256", "x5c": [der]}).encode())
    body = b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256())))
    return f"{head}.{body}." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if url.path != "/token" or self.headers.get("Authorization") != expected:
            self.send_response(401)
            self.end_headers()
            return
        scopes = urllib.parse.parse_qs(url.query).get("scope", [])
        body = json.dumps({"token": token(scopes), "expires_in": lifetime}).encode()
        with open(os.path.join(directory, "issued"), "a") as f:
            f.write(" ".join(scopes) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
