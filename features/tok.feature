Feature: TOK - issuing a token
  A client that presents valid credentials with the client-credentials grant receives an access
  token it can use at the Ticket APIs, in the shape the contract and RFC 6749 describe.
  TOK-01 judges the valid request itself; the checks that judge its answer are skipped ("no
  token to judge") when it was not a success, never judged on a refusal.

  @TOK-01 @must
  Scenario: Valid credentials get a token
    When I request a token with valid credentials
    Then the response status is 200

  @TOK-02 @must @whole-run
  Scenario: The token answer is JSON
    Given every other check of the run has finished
    And I have a successful answer to a valid token request
    Then the response header Content-Type is application/json
    And every other token answer of the run has the header Content-Type application/json

  @TOK-03 @must
  Scenario: The token answer holds an access token
    Given I have a successful answer to a valid token request
    Then the body is a JSON object
    And the field access_token is a non-empty string

  @TOK-04 @must @whole-run
  Scenario: The token type is Bearer
    Given every other check of the run has finished
    And I have a successful answer to a valid token request
    Then the field token_type is "Bearer" in any letter case
    And every other token answer of the run has token_type "Bearer" in any letter case

  @TOK-05 @must
  Scenario: The token says how long it lives
    Given I have a successful answer to a valid token request
    Then the field expires_in is a positive whole number of seconds

  @TOK-06 @should
  Scenario: The token lives 28800 seconds, as the contract's example says
    Given I have a successful answer to a valid token request
    Then the field expires_in is 28800

  @TOK-07 @must
  Scenario: The granted scope is reported in the expected form
    Given I have a successful answer to a valid token request
    Then the field scope is absent or a space-delimited string
    And under the derbysoft profile, the field scope holds "shop.all reservation.all product.all livecheck.all"

  @TOK-08 @must @whole-run
  Scenario: The token answer must not be stored by caches
    Given every other check of the run has finished
    And I have a successful answer to a valid token request
    Then the response header Cache-Control has no-store
    And every other token answer of the run has the header Cache-Control no-store

  @TOK-09 @should
  Scenario: The token answer also forbids caching the old way
    Given I have a successful answer to a valid token request
    Then the response header Pragma has no-cache

  @TOK-10 @should @whole-run
  Scenario: No refresh token is issued for the client-credentials grant
    Given every other check of the run has finished
    And I have a successful answer to a valid token request
    Then the response has no field refresh_token
    And no other token answer of the run has a refresh_token

  @TOK-11 @must
  Scenario: An unknown parameter is ignored
    When I request a token with the form "grant_type=client_credentials&foo=bar"
    Then the response status is 200
    And the response has an access token

  @TOK-12 @should
  Scenario: The form content type is accepted in any letter case, with a charset
    When I request a token with the form "grant_type=client_credentials" and the content type "Application/X-WWW-Form-Urlencoded; charset=UTF-8"
    Then the response status is 200

  @TOK-13 @should
  Scenario: A narrower scope can be asked for
    When I request a token with the form "grant_type=client_credentials&scope=product.all"
    Then the response status is 200
    And the granted scope is stated when it differs from "product.all"

  @TOK-14 @should
  Scenario: A scope the client does not hold is refused
    When I request a token with the form "grant_type=client_credentials&scope=admin.all"
    Then the response has no access token
    And the response status is 400
    And the error is invalid_scope
