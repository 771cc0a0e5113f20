Feature: HTTP - request and error semantics
  The token endpoint speaks plain, predictable HTTP: a form POST in, JSON out, and clear errors
  for anything else. Some of these checks look back over every answer of the whole run.

  @HTTP-01 @must
  Scenario: A GET request gets no token
    When I send a GET to the token endpoint with valid credentials and the query "grant_type=client_credentials"
    Then the response has no access token
    And ideally the response status is 405
    And ideally the response header Allow has POST

  @HTTP-02 @must
  Scenario: A JSON body is not a token request
    When I request a token with the JSON body {"grant_type":"client_credentials"}
    Then the response has no access token
    And the response status is 400 or 415

  @HTTP-03 @must
  Scenario: An empty body is refused
    When I request a token with an empty body
    Then the response has no access token
    And the response status is 400

  @HTTP-04 @must
  Scenario: A huge form body does not break the token endpoint
    When I request a token with a form body of 1 MiB
    Then the response status is not a server error
    And ideally the response status is 400 or 413
    When I request a token with valid credentials
    Then the response status is 200
    And the response has an access token

  @HTTP-05 @should @whole-run
  Scenario: Every error answer to a token request is a standard OAuth error
    Given every other check of the run has finished
    Then every error answer to a POST token request is a JSON object whose error is one of RFC 6749's codes

  @HTTP-06 @should @whole-run
  Scenario: Error answers must not be stored by caches either
    Given every other check of the run has finished
    Then every error answer from the token endpoint has the header Cache-Control no-store

  @HTTP-07 @must @whole-run
  Scenario: No malformed request causes a server error
    Given every other check of the run has finished
    Then no malformed request of the run was answered with a server error

  @HTTP-08 @must @whole-run
  Scenario: Error answers never echo the client secret
    Given every other check of the run has finished
    Then no error answer of the run contains a client secret

  @HTTP-09 @should
  Scenario Outline: Other methods get no token
    When I send a <method> to the token endpoint with valid credentials and the form "grant_type=client_credentials"
    Then the response has no access token
    And the response status is 405 or another client error

    Examples:
      | method |
      | PUT    |
      | DELETE |
