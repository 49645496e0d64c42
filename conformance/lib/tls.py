"""Throwaway certificates with the `openssl` CLI, the same way conformance/spawn
makes them: a CA (DIR/ca.key, DIR/ca.crt) and leaf certificates it signs."""
import ipaddress
import os
import subprocess


def _run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd[:3]), p.stderr.decode(errors="replace")[-500:]))


def make_ca(directory):
    """DIR/ca.key and DIR/ca.crt; reuses them if present (spawn does too)."""
    os.makedirs(directory, exist_ok=True)
    key, crt = os.path.join(directory, "ca.key"), os.path.join(directory, "ca.crt")
    if not os.path.exists(crt):
        _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=mxrelay test CA"])
        os.chmod(key, 0o600)
    return key, crt


def _host_of(server_name):
    if server_name.startswith("["):
        return server_name[1:server_name.index("]")]
    return server_name.rsplit(":", 1)[0] if server_name.count(":") == 1 else server_name


def issue_cert(ca_key, ca_crt, directory, server_names):
    """A leaf certificate for the hosts of server_names (one name or a list)
    plus localhost and 127.0.0.1."""
    os.makedirs(directory, exist_ok=True)
    names = [server_names] if isinstance(server_names, str) else list(server_names)
    sans, cn = [], None
    for name in names:
        host = _host_of(name)
        cn = cn or host
        try:
            ipaddress.ip_address(host)
            san = "IP:" + host
        except ValueError:
            san = "DNS:" + host
        if san not in sans:
            sans.append(san)
    for san in ("DNS:localhost", "IP:127.0.0.1"):
        if san not in sans:
            sans.append(san)
    key, csr, crt, ext = (os.path.join(directory, f) for f in ("tls.key", "tls.csr", "tls.crt", "tls.ext"))
    with open(ext, "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n" % ",".join(sans))
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
          "-out", csr, "-subj", "/CN=%s" % cn])
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-out", crt,
          "-days", "30", "-extfile", ext])
    os.chmod(key, 0o600)
    return key, crt
