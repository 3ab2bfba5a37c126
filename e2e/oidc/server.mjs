// The identity provider the end-to-end suite signs in with: `oidc-provider` from npm, a
// certified OpenID Connect implementation, standing in for the province's identity service
// (citizens) and the office platform's single sign-on (officers).
//
//   node e2e/oidc/server.mjs            IDP_PORT (default 18090) for the trusted provider,
//                                       OTHER_PORT (default 18091) for a second, untrusted one
//   HUB (default http://127.0.0.1:18080) is where both send people back.
//
// Its people: any login signs in with any password (the provider's development login page).
// A login that is an ID number carries it in the `id_number` claim (scope `idcard`); one that is
// a unified social credit code is a legal person (法人), with the code in the `credit_code` claim
// (scope `legalperson`) and the enterprise's name; every login is also the `preferred_username`
// the hub maps console users by.
import Provider from 'oidc-provider';

const HUB = process.env.HUB || 'http://127.0.0.1:18080';
const SECRET = process.env.CLIENT_SECRET || 'shuniu-test-client-secret-0123456789';
const ID_NUMBER = /^\d{17}[\dX]$/;
const CREDIT_CODE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

const people = {
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, preferred_username: id, name: `测试用户 ${id.slice(-4)}` };
        if (ID_NUMBER.test(id)) claims.id_number = id;
        else if (CREDIT_CODE.test(id)) {
          claims.credit_code = id;
          claims.name = `测试企业 ${id.slice(-4)}`;
        }
        return claims;
      },
    };
  },
};

function provider(port) {
  const issuer = `http://127.0.0.1:${port}`;
  const p = new Provider(issuer, {
    clients: [
      {
        client_id: 'shuniu-citizen',
        client_secret: SECRET,
        redirect_uris: [`${HUB}/my-data/callback`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
      {
        client_id: 'shuniu-enterprise',
        client_secret: SECRET,
        redirect_uris: [`${HUB}/my-enterprise/callback`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
      {
        client_id: 'shuniu-console',
        client_secret: SECRET,
        redirect_uris: [`${HUB}/login/sso/callback`],
        response_types: ['code'],
        grant_types: ['authorization_code'],
      },
    ],
    ...people,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      idcard: ['id_number'],
      legalperson: ['credit_code'],
    },
    scopes: ['openid', 'profile', 'idcard', 'legalperson'],
    pkce: { required: () => true },
    cookies: { keys: ['shuniu-test-cookie-key'] },
    ttl: { IdToken: 300, AccessToken: 300, AuthorizationCode: 60, Session: 600, Interaction: 600, Grant: 600 },
    // First-party clients of the province: no consent screen, as the real services do.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile idcard legalperson');
      await grant.save();
      return grant;
    },
  });
  p.listen(port, '127.0.0.1', () => console.log(`identity provider ${issuer} ready`));
  return p;
}

provider(Number(process.env.IDP_PORT || 18090));
provider(Number(process.env.OTHER_PORT || 18091));
