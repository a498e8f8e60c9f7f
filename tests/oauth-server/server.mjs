// Starts oauth2-mock-server on 127.0.0.1 for tib's OAuth tests and prints its
// URL on the first line. OAUTH_TTL sets the tokens' lifetime in seconds, so
// tests can see them expire and be refreshed.
import { OAuth2Server } from 'oauth2-mock-server';

const ttl = Number(process.env.OAUTH_TTL ?? '3600');
const port = Number(process.env.OAUTH_PORT ?? '0');

const server = new OAuth2Server();
await server.issuer.keys.generate('RS256');
server.service.on('beforeResponse', (response) => {
  if (response.body && response.body.expires_in !== undefined) {
    response.body.expires_in = ttl;
  }
});
await server.start(port, '127.0.0.1');
// The tests reach it at the loopback address itself, so its issuer (what OpenID Connect discovery
// and ID tokens name) is that, not `localhost`.
server.issuer.url = `http://127.0.0.1:${server.address().port}`;
console.log(server.issuer.url);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await server.stop();
    process.exit(0);
  });
}
