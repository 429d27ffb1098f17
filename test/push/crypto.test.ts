/** Web Push crypto: RFC 8291 Appendix A byte for byte, a round trip through the receiver's decryption, and the VAPID token. */
import assert from 'node:assert/strict';
import { createECDH } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { encryptPushMessage, generateVapidKeys, isSubscriptionKeys, isVapidKeyPair, vapidAuthorization } from '../../src/push/web-push-crypto.js';
import { decryptPushMessage } from './local-push-service.js';

const b64 = (text: string) => Buffer.from(text, 'base64url');

// RFC 8291, Appendix A.
const VECTOR = {
  plaintext: 'When I grow up, I want to be a watermelon',
  asPrivate: 'yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw',
  uaPrivate: 'q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94',
  uaPublic: 'BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4',
  authSecret: 'BTBZMqHH6r4Tts7J_aSIgg',
  salt: 'DGv6ra1nlYgDCS1FRnbzlw',
  body:
    'DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN',
};

describe('RFC 8291 message encryption', () => {
  it('produces the Appendix A body from its keys and salt', () => {
    const body = encryptPushMessage(Buffer.from(VECTOR.plaintext), { p256dh: VECTOR.uaPublic, auth: VECTOR.authSecret }, {
      senderPrivateKey: b64(VECTOR.asPrivate),
      salt: b64(VECTOR.salt),
    });
    assert.equal(body.toString('base64url'), VECTOR.body);
  });

  it('round-trips with fresh keys and salt: the receiver decrypts what was sent', () => {
    const receiver = createECDH('prime256v1');
    receiver.generateKeys();
    const auth = Buffer.alloc(16, 7).toString('base64url');
    const text = JSON.stringify({ content: 'héllo ✓', n: 1 });
    const one = encryptPushMessage(Buffer.from(text), { p256dh: receiver.getPublicKey().toString('base64url'), auth });
    const two = encryptPushMessage(Buffer.from(text), { p256dh: receiver.getPublicKey().toString('base64url'), auth });
    assert.notDeepEqual(one, two, 'a new salt and sender key each time');
    assert.equal(decryptPushMessage(one, receiver.getPrivateKey(), b64(auth)).toString(), text);
    assert.equal(decryptPushMessage(b64(VECTOR.body), b64(VECTOR.uaPrivate), b64(VECTOR.authSecret)).toString(), VECTOR.plaintext);
  });

  it('checks subscription keys and VAPID key pairs', () => {
    assert.equal(isSubscriptionKeys({ p256dh: VECTOR.uaPublic, auth: VECTOR.authSecret }), true);
    assert.equal(isSubscriptionKeys({ p256dh: VECTOR.uaPublic.slice(0, 40), auth: VECTOR.authSecret }), false);
    assert.equal(isSubscriptionKeys({ p256dh: VECTOR.uaPublic, auth: 'short' }), false);
    const keys = generateVapidKeys();
    assert.equal(isVapidKeyPair(keys), true);
    assert.equal(isVapidKeyPair({ ...keys, publicKey: VECTOR.uaPublic }), false);
  });
});

describe('VAPID (RFC 8292)', () => {
  it('signs ES256 over the k key, for the endpoint origin, expiring within 24 h', async () => {
    const keys = generateVapidKeys();
    const now = Date.UTC(2030, 0, 1);
    const header = await vapidAuthorization('https://push.example.net:8443/wpush/v2/abc?x=1', keys, 'mailto:ops@example.com', now);
    const match = /^vapid t=([^,]+), k=(.+)$/.exec(header);
    assert.ok(match, header);
    assert.equal(match[2], keys.publicKey);
    const publicKey = b64(match[2]);
    const key = await importJWK({ kty: 'EC', crv: 'P-256', x: publicKey.subarray(1, 33).toString('base64url'), y: publicKey.subarray(33).toString('base64url') }, 'ES256');
    const { payload } = await jwtVerify(match[1], key, { currentDate: new Date(now), audience: 'https://push.example.net:8443' });
    assert.equal(decodeProtectedHeader(match[1]).alg, 'ES256');
    assert.equal(payload.sub, 'mailto:ops@example.com');
    assert.ok(payload.exp! > now / 1000 && payload.exp! <= now / 1000 + 24 * 3600);
  });
});
