#!/usr/bin/env python3
"""docs/protocol.md, "End-to-end encrypted payloads": the known answers of version 2, made again
from the text alone (python3 with the cryptography package; XChaCha20 from its HChaCha20 by hand)."""
import hashlib, hmac, struct, base64
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
L=b"udprelay e2e v2"; G=b"ABCD1234"
def hkdf(ikm,salt,info,n=32):
    prk=hmac.new(salt,ikm,hashlib.sha256).digest()
    return hmac.new(prk,info+b"\x01",hashlib.sha256).digest()[:n]
def rotl(v,c): return ((v<<c)&0xffffffff)|(v>>(32-c))
def qr(s,a,b,c,d):
    s[a]=(s[a]+s[b])&0xffffffff; s[d]=rotl(s[d]^s[a],16)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]=rotl(s[b]^s[c],12)
    s[a]=(s[a]+s[b])&0xffffffff; s[d]=rotl(s[d]^s[a],8)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]=rotl(s[b]^s[c],7)
def hchacha(key,n16):
    s=[0x61707865,0x3320646e,0x79622d32,0x6b206574]+list(struct.unpack("<8I",key))+list(struct.unpack("<4I",n16))
    for _ in range(10):
        qr(s,0,4,8,12);qr(s,1,5,9,13);qr(s,2,6,10,14);qr(s,3,7,11,15)
        qr(s,0,5,10,15);qr(s,1,6,11,12);qr(s,2,7,8,13);qr(s,3,4,9,14)
    return struct.pack("<8I",*(s[0:4]+s[12:16]))
def xseal(key,nonce,msg,aad):
    sub=hchacha(key,nonce[:16]); return ChaCha20Poly1305(sub).encrypt(b"\0"*4+nonce[16:],msg,aad)
def b32(b): return base64.b32encode(b).decode().rstrip("=")
def fp(what,b):
    t=b32(hashlib.sha256(L+what+b).digest()[:13]); return "-".join(t[i*4:i*4+4] for i in range(5))
key=hkdf(bytes([7])*32,L,G); kid=hashlib.sha256(L+b"group key"+key).digest()
print("key fingerprint", fp(b"group key",key))
def env(seed,name,text,counter,time,nonce):
    sk=Ed25519PrivateKey.from_private_bytes(seed)
    pk=sk.public_key().public_bytes(serialization.Encoding.Raw,serialization.PublicFormat.Raw)
    pt=struct.pack(">QQ",counter,time)+pk+bytes([len(name)])+name+text
    sig=sk.sign(L+b" signature"+G+kid+pt)
    ct=xseal(key,nonce,pt+sig,L+G)
    return fp(b"identity",pk), "~E2 "+base64.urlsafe_b64encode(nonce+ct).decode().rstrip("=")
print(*env(bytes([1])*32,b"ana",b"hello",42,1780000000000,bytes([9])*24))
print(*env(bytes([2])*32,b"","grüße 👋".encode(),(1780000000<<32)|1,1780000000123,bytes([3])*24))
