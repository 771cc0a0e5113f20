Feature: CLIENT: certifying a partner's client
  The partner's program is the subject: it fetches tokens from the harness's mock with the
  credentials it was given and calls the sample Ticket API until it is stopped. Each session
  gives it tokens of a few seconds (never 28800) and, where a scenario says so, a fault. The
  harness judges what it saw the client send.

  @CLIENT-01 @must
  Scenario: token requests are POSTed forms with grant_type=client_credentials
    Given every session
    Then the client made token requests
    And every token request is a POST to the token URL
    And every token request has the content type "application/x-www-form-urlencoded"
    And every token request body has grant_type=client_credentials

  @CLIENT-02 @must
  Scenario: credentials travel only in HTTP Basic, never to the API
    Given every session
    Then the client made token requests
    And every token request carries the credentials in HTTP Basic only
    And no API call carries the client's credentials

  @CLIENT-03 @info
  Scenario: how the secret is encoded inside HTTP Basic
    Given the "baseline" session
    Then the client made token requests
    And how the client encodes its secret in HTTP Basic is noted

  @CLIENT-04 @must
  Scenario: the client reuses its token
    Given the "baseline" session
    Then the client kept calling the API until it was stopped
    And token fetches are at most the token lifetimes spanned plus 1

  @CLIENT-05 @must
  Scenario: the client honours the expires_in it is given
    Given the "baseline" session
    Then the client kept calling the API until it was stopped
    And no API call presents a token more than 1 s after it expired

  @CLIENT-06 @should
  Scenario: the client refreshes before expiry
    Given the "baseline" session
    Then the client kept calling the API until it was stopped
    And no API call is rejected because its token expired
    And each new token is fetched before the previous one expires

  @CLIENT-07 @should
  Scenario: expires_in as a numeric string
    Given the "string expires_in" session
    Then the client kept calling the API until it was stopped
    And no API call presents a token more than 1 s after it expired
    And token fetches are at most the token lifetimes spanned plus 1

  @CLIENT-08 @should
  Scenario: token_type "bearer" and no scope
    Given the "lower-case bearer" session
    Then the client kept calling the API until it was stopped
    And every API call carries exactly one "Authorization: Bearer <token>" header

  @CLIENT-09 @must
  Scenario: the token goes in one Authorization: Bearer header, never in the URL
    Given every session
    Then the client made API calls
    And every API call carries exactly one "Authorization: Bearer <token>" header
    And no URL carries a token

  @CLIENT-10 @must
  Scenario: recovery after a revoked token
    Given the "revocation" session
    Then after the first rejected API call the client fetches a new token and an API call succeeds within 2 s

  @CLIENT-11 @must
  Scenario: no retry storm when every token is rejected
    Given the "every token rejected" session
    Then the client made token requests
    And the token request rate stays at most 5 per second over any 2 s

  @CLIENT-12 @should
  Scenario: Retry-After on the token endpoint is honoured
    Given the "rate limited" session
    Then the client made token requests
    And no token request is sent before the Retry-After elapsed
    And the client gets a token again and an API call succeeds

  @CLIENT-13 @should
  Scenario: backoff while the token endpoint is unavailable
    Given the "unavailable" session
    Then the client made token requests
    And the token request rate stays at most 5 per second over any 2 s
    And the client gets a token again and an API call succeeds

  @CLIENT-14 @should
  Scenario: one token fetch for all workers
    Given the "baseline" session
    When the client was seen calling the API in parallel this is a SHOULD, otherwise INFO
    Then the client made token requests
    And at most one token request is sent before the first token arrives
    And no two token requests are in flight at once

  @CLIENT-15 @must
  Scenario: an untrusted TLS certificate is refused
    Given the "untrusted TLS" session
    Then no credential reaches the harness
    And it is noted whether the client worked in the "trusted TLS" session

  @CLIENT-16 @must
  Scenario: no credentials follow a redirect to another origin
    Given the "redirect" session
    Then the other origin receives no credential

  @CLIENT-17 @should
  Scenario: the derbysoft API headers
    Given the "baseline" session
    Then the client made API calls
    And every API call carries a "distributor-id" header
    And every API call carries an "echo-token" header unique per request

  @CLIENT-18 @info
  Scenario: token fetches, API calls and latency
    Given the "baseline" session
    Then the token fetches per hour with 8-hour tokens are noted
    And the API calls and their latency are noted
