Feature: AUTH - client authentication
  The token endpoint hands out a token only to a client that proves who it is with its own ID and
  secret, sent the way the contract says: HTTP Basic authentication.

  @AUTH-01 @must
  Scenario: No credentials, no token
    When I request a token without any credentials
    Then the response has no access token
    And ideally the response status is 401
    And ideally the error is invalid_client

  @AUTH-02 @must
  Scenario: A wrong secret is refused
    When I request a token with a wrong secret
    Then the response has no access token
    And the response status is 401
    And the error is invalid_client

  @AUTH-03 @must
  Scenario: A refused client is told to use Basic authentication
    When I request a token with a wrong secret
    Then the response header WWW-Authenticate names the Basic scheme

  @AUTH-04 @must
  Scenario: An unknown client is refused
    When I request a token for an unknown client
    Then the response has no access token
    And the response status is 401
    And the error is invalid_client

  @AUTH-05 @should
  Scenario: A wrong secret and an unknown client look the same from outside
    When I request a token with a wrong secret
    And I request a token for an unknown client
    Then the last two answers have the same status, error and body shape

  @AUTH-06 @must
  Scenario: Credentials that are not base64 are refused without a server error
    When I request a token with the Authorization header "Basic !!!not-base64"
    Then the response has no access token
    And the response status is 400 or 401

  @AUTH-07 @must
  Scenario: Basic credentials without a colon are refused
    When I request a token with Basic credentials that have no colon
    Then the response has no access token
    And the response status is 400 or 401

  @AUTH-08 @must
  Scenario: An empty secret is refused
    When I request a token with an empty secret
    Then the response has no access token

  @AUTH-09 @must
  Scenario: A bearer token is not a client credential
    When I request a token with the Authorization header "Bearer not-a-client-credential"
    Then the response has no access token
    When I request a token with valid credentials
    And I request a token with that access token as a Bearer credential
    Then the response has no access token

  @AUTH-10 @should
  Scenario Outline: The Basic scheme name is accepted in any letter case
    When I request a token with the scheme written "<scheme>"
    Then the response status is 200

    Examples:
      | scheme |
      | basic  |
      | BASIC  |

  @AUTH-11 @should
  Scenario: Credentials form-encoded before base64 are accepted
    When I request a token with the credentials form-encoded before base64
    Then the response status is 200

  @AUTH-12 @must
  Scenario: Credentials in the URL are refused
    When I request a token with the client ID and secret in the URL query and no Authorization header
    Then the response has no access token

  @AUTH-13 @should
  Scenario Outline: Two ways of authenticating at once are refused
    When I request a token with valid credentials and <extra> in the body
    Then the response has no access token
    And the response status is <status>
    And the error is <error>

    Examples:
      | extra                  | status     | error                             |
      | the client secret also | 400        | invalid_request                   |
      | a wrong client secret  | 400 or 401 | invalid_request or invalid_client |
      | another client's ID    | 400 or 401 | invalid_request or invalid_client |

  @AUTH-14 @info
  Scenario: Whether the secret may be sent in the body instead of Basic is reported
    When I request a token with the client ID and secret in the body only
    Then whether the token endpoint accepted it is reported

  @AUTH-15 @must
  Scenario Outline: A secret that is almost right is refused
    When I request a token with the secret altered: <change>
    Then the response has no access token

    Examples:
      | change                  |
      | one character changed   |
      | one character removed   |
      | one character appended  |
      | its letter case flipped |
      | a space appended        |
      | a tab prepended         |

  @AUTH-16 @should
  Scenario: Two Authorization headers are refused
    When I request a token with two Authorization headers
    Then the response has no access token
    And the response status is 400

  @AUTH-17 @info @intrusive
  Scenario: Repeated wrong secrets: throttling is reported, and the right secret still works
    When I request a token with a wrong secret 20 times in a row
    Then whether the token endpoint throttled is reported
    When I request a token with valid credentials
    Then the response status is 200

  @AUTH-18 @should
  Scenario: The form of the client credentials the token endpoint accepts is reported
    When I request a token with the credentials raw and form-encoded before base64
    Then which form of the credentials the token endpoint accepts is reported
    And under the derbysoft profile, the credentials as the seed writes them were accepted
