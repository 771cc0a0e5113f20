Feature: GRANT - the grant type
  The token endpoint issues tokens only for the client-credentials grant, written exactly so.

  @GRANT-01 @must
  Scenario: A request without a grant type is refused
    When I request a token with the form "scope=product.all"
    Then the response has no access token
    And the response status is 400
    And ideally the error is invalid_request

  @GRANT-02 @must
  Scenario: An empty grant type is refused
    When I request a token with the form "grant_type="
    Then the response has no access token
    And the response status is 400

  @GRANT-03 @must
  Scenario: An unknown grant type is refused
    When I request a token with the form "grant_type=foo"
    Then the response has no access token
    And the response status is 400
    And under the rfc6749 profile, the error is unsupported_grant_type
    And under the derbysoft profile, ideally the error is unsupported_grant_type

  @GRANT-04 @must
  Scenario Outline: Other OAuth grant types are refused
    When I request a token with the form "grant_type=<grant>"
    Then the response has no access token
    And ideally the error is unsupported_grant_type or unauthorized_client

    Examples:
      | grant              |
      | password           |
      | authorization_code |
      | refresh_token      |

  @GRANT-05 @should
  Scenario: The grant type is case-sensitive
    When I request a token with the form "grant_type=CLIENT_CREDENTIALS"
    Then the response has no access token

  @GRANT-06 @should
  Scenario: A repeated grant type is refused
    When I request a token with the form "grant_type=client_credentials&grant_type=client_credentials"
    Then the response has no access token
    And the response status is 400
    And the error is invalid_request

  @GRANT-07 @should
  Scenario: A grant type only in the URL query is refused
    When I send a POST to the token endpoint with valid credentials, the query "grant_type=client_credentials" and an empty body
    Then the response has no access token
