#!/usr/bin/env python3
# Differential check: run the same raw frontend message sequences against a
# reference PostgreSQL and against the spike server, print a one-line summary
# of the backend messages per case. Usage: pg_diff.py PORT
# (reference PG needs: create table sink(x text); create view five_rows as
#  select n, 'row-'||n as label from generate_series(1,5) n;)
import socket, struct, sys
port=int(sys.argv[1])
def cstr(s): return s.encode()+b"\0"
def msg(t,b): return t+struct.pack("!i",len(b)+4)+b
def conn():
    s=socket.create_connection(("127.0.0.1",port))
    body=struct.pack("!i",196608)+b"user\0postgres\0database\0postgres\0\0"
    s.sendall(struct.pack("!i",len(body)+4)+body)
    until_z(s)
    return s
def recv(s):
    h=b""
    while len(h)<5:
        d=s.recv(5-len(h))
        if not d: return None
        h+=d
    t=h[:1]; n=struct.unpack("!i",h[1:])[0]-4
    b=b""
    while len(b)<n: b+=s.recv(n-len(b))
    return t,b
def until_z(s):
    out=[]
    while True:
        m=recv(s)
        if m is None: out.append(("EOF",b"")); return out
        out.append(m)
        if m[0]==b"Z": return out
def summary(ms):
    r=[]
    for t,b in ms:
        if t==b"C": r.append("C(%s)"%b[:-1].decode())
        elif t==b"E":
            f=dict((x[:1].decode(),x[1:].decode()) for x in b.split(b"\0") if x)
            r.append("E(%s)"%f.get("C"))
        elif t==b"Z": r.append("Z(%s)"%b.decode())
        else: r.append(t.decode() if isinstance(t,bytes) else t)
    return " ".join(r)
P=lambda name,q: msg(b"P",cstr(name)+cstr(q)+b"\0\0")
B=lambda portal,st: msg(b"B",cstr(portal)+cstr(st)+b"\0\0"+b"\0\0"+b"\0\0")
Bp=lambda portal,st,v: msg(b"B",cstr(portal)+cstr(st)+b"\0\0"+b"\0\1"+struct.pack("!i",len(v))+v+b"\0\0")
E=lambda portal,n: msg(b"E",cstr(portal)+struct.pack("!i",n))
D=lambda k,n: msg(b"D",k+cstr(n))
S=msg(b"S",b"")
cases={
 "row limit": [P("five","SELECT * FROM five_rows"),B("cur","five"),E("cur",2),E("cur",2),E("cur",2),S],
 "describe insert w/ param": [P("ins","INSERT INTO sink VALUES ($1)"),D(b"S","ins"),Bp("","ins",b"x"),D(b"P",""),E("",0),S],
 "unknown portal": [E("nope",0),S],
 "unknown stmt": [B("","nope"),S],
 "re-execute finished portal": [P("f2","SELECT * FROM five_rows"),B("c2","f2"),E("c2",0),E("c2",0),S],
}
for name,parts in cases.items():
    s=conn(); s.sendall(b"".join(parts)); print(f"{name:28} {summary(until_z(s))}"); s.close()
s=conn(); s.sendall(msg(b"Q",cstr("BEGIN")));until_z(s)
s.sendall(b"".join([E("nope",0),S])); print(f"{'unknown portal in block':28} {summary(until_z(s))}")
s=conn(); s.sendall(b"\x01\x00\x00\x00\x08junk"); print(f"{'bad message type':28} {summary(until_z(s))}")
s=conn(); s.sendall(b"B\x00\x00\x00\x02"); print(f"{'Bind length 2':28} {summary(until_z(s))}")
s=conn(); s.sendall(msg(b"Q",cstr("SELECT 1; SELECT 1/0; SELECT 3"))); print(f"{'multi with error':28} {summary(until_z(s))}")
