Feature: CACHE - issuance and caching behaviour
  How the token endpoint behaves when a client asks again: new tokens or the same one, lifetimes
  that tell the truth, several tokens alive at once, and separate tokens for separate clients.
  These scenarios run alone, one after another, after the others: no other request comes between
  theirs. "At once" sends at most --concurrency requests at a time. CACHE-03 runs as the second
  client when the run has one, alongside the other checks (none of them asks for that client's
  tokens); when that client gets no token, or no newer one, or the API does not accept its token, it
  runs again as the first client, alone.

  @CACHE-01 @info
  Scenario: Whether the endpoint reissues or caches tokens is reported
    When I request a token with valid credentials 5 times in a row
    And I request a token with valid credentials once more 1 second later, when a token came twice
    Then whether the tokens are reissued, cached or mixed is reported

  @CACHE-02 @must @whole-run
  Scenario: Every token's lifetime tells the truth
    Given every other check of the run has finished
    Then for every token of the run, now plus expires_in equals its exp within 5 seconds

  @CACHE-03 @should @api
  Scenario: An earlier token still works after a new one is issued
    Accepted means answered as the same call with the newer token was.
    Given I have a valid token
    When I request a token with valid credentials
    And I call the API with the first token
    Then the API accepted the call
    When I call the API with the first token again, 1 second later
    Then the API accepted the call

  @CACHE-04 @should
  Scenario: Ten requests at once all succeed
    When I request a token with valid credentials 10 times at once
    Then every one of those answers has status 200 and an access token

  @CACHE-05 @must @client2
  Scenario: Two clients never receive the same token
    When I request a token as each client at once, 3 times 100 ms apart
    Then the two clients' tokens differ
    And each token's sub and dis belong to its own client

  @CACHE-06 @info @whole-run
  Scenario: The token endpoint's latency over the run is reported
    Given every other check of the run has finished
    Then the token endpoint's latency over the run is reported
