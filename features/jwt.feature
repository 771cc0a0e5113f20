Feature: JWT - the access token itself
  DerbySoft's access tokens are RS256-signed JSON Web Tokens carrying who they were issued to,
  their scope and their lifetime. A plain OAuth 2.0 server (the rfc6749 profile) may issue opaque
  tokens instead; the checks below the first two are then skipped.

  Background:
    Given I have a valid token

  @JWT-01 @must
  Scenario: The token is a compact signed JWT
    Then the token is three base64url segments without padding, whose header and claims are JSON objects

  @JWT-02 @must
  Scenario: The token is signed with an asymmetric algorithm
    Then the token's alg is an asymmetric algorithm, never none nor HS*
    And under the derbysoft profile, the token's alg is RS256

  @JWT-03 @must
  Scenario: The token's lifetime claims are consistent with expires_in
    Then the token's exp and iat are numbers and exp is after iat
    And the token's exp equals now plus expires_in within 5 seconds

  @JWT-04 @should
  Scenario: The token's issue time agrees with our clock
    Then the token's iat is within 300 seconds of our clock

  @JWT-05 @should
  Scenario: The token is valid from the moment it is issued
    Then the token's nbf, when present, is not in the future

  @JWT-06 @should
  Scenario: The token names its issuer
    Then the token has the claim iss
    And under the derbysoft profile, for information, the token's iss is "https://www.derbysoft.com"

  @JWT-07 @should @whole-run
  Scenario: The token's scope agrees with the granted scope
    Given every other check of the run has finished
    Then the token's scope claim, when present, equals the granted scope as a set
    And under the derbysoft profile, the token has the claim scope
    And for every other token answer of the run, the token's scope claim, when present, equals the granted scope as a set

  @JWT-08 @should @whole-run
  Scenario: Every token has its own ID
    Given every other check of the run has finished
    When I request a token with the form "grant_type=client_credentials&scope=product.all"
    Then every token of the run has the claim jti
    And no two different tokens of the run share a jti

  @JWT-09 @must @keys
  Scenario: The token's signature verifies with the issuer's key
    Then the token's signature verifies with the issuer's key

  @JWT-10 @info
  Scenario: Who the token was issued to is reported
    Then the token's sub, aud and dis and their relation to the client ID are reported
