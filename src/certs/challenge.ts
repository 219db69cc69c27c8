/**
 * Who answers HTTP-01 challenges: the proxy's HTTP listener serves `keyAuthorization` at
 * `/.well-known/acme-challenge/<token>` while an order is validated. The proxy client implements it in
 * the daemon; tests may use a small HTTP server of their own.
 */
export interface ChallengeResponder {
  set(token: string, keyAuthorization: string): Promise<void>;
  remove(token: string): Promise<void>;
}
