// Copies of /work/shared/samples, byte for byte, so tests do not depend on paths outside the package.

enum Samples {
    static let identify: [UInt8] = Array(##"""
{
  "anonymousId": "507f191e810c19729de860ea",
  "channel": "browser",
  "context": {
    "ip": "8.8.8.8",
    "library": {
      "name": "analytics.js",
      "version": "next-1.68.0"
    },
    "locale": "en-US",
    "page": {
      "path": "/account",
      "title": "Account",
      "url": "https://shop.example.com/account"
    },
    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
  },
  "integrations": {},
  "messageId": "ajs-next-8b8d5e7e2c1f4c0b9f1c6a3a6b7c8d9e",
  "receivedAt": "2026-11-28T10:00:00.512Z",
  "sentAt": "2026-11-28T10:00:00.301Z",
  "timestamp": "2026-11-28T10:00:00.298Z",
  "traits": {
    "name": "Peter Gibbons",
    "email": "peter@example.com",
    "plan": "premium",
    "logins": 5,
    "first_time_shopper": true,
    "address": {
      "street": "6th St",
      "city": "San Francisco",
      "state": "CA",
      "postalCode": "94103",
      "country": "USA"
    }
  },
  "type": "identify",
  "userId": "97980cfea0067",
  "version": 2
}
"""##.utf8)
    static let identifyAnonymous: [UInt8] = Array(##"""
{
  "type": "identify",
  "anonymousId": "anon-7f3c",
  "messageId": "ajs-anon-0001",
  "traits": {
    "favorite_category": "shoes"
  },
  "timestamp": "2026-11-28T10:06:00.000Z"
}
"""##.utf8)
    static let track: [UInt8] = Array(##"""
{
  "anonymousId": "507f191e810c19729de860ea",
  "context": {
    "library": {
      "name": "analytics-node",
      "version": "2.1.0"
    }
  },
  "event": "Order Completed",
  "messageId": "node-next-1a2b3c4d5e6f",
  "properties": {
    "order_id": "50314b8e9bcf000000000000",
    "total": 27.5,
    "currency": "USD",
    "products": [
      {
        "product_id": "507f1f77bcf86cd799439011",
        "sku": "45790-32",
        "price": 19,
        "quantity": 1
      }
    ]
  },
  "receivedAt": "2026-11-28T10:01:00.000Z",
  "sentAt": "2026-11-28T10:00:59.900Z",
  "timestamp": "2026-11-28T10:00:59.800Z",
  "type": "track",
  "userId": "97980cfea0067",
  "version": 2
}
"""##.utf8)
    static let webhookActionsBatch: [UInt8] = Array(##"""
[
  {
    "anonymousId": "507f191e810c19729de860ea",
    "channel": "browser",
    "context": {
      "ip": "8.8.8.8",
      "library": {
        "name": "analytics.js",
        "version": "next-1.68.0"
      },
      "locale": "en-US",
      "page": {
        "path": "/account",
        "title": "Account",
        "url": "https://shop.example.com/account"
      },
      "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
    },
    "integrations": {},
    "messageId": "ajs-next-8b8d5e7e2c1f4c0b9f1c6a3a6b7c8d9e",
    "receivedAt": "2026-11-28T10:00:00.512Z",
    "sentAt": "2026-11-28T10:00:00.301Z",
    "timestamp": "2026-11-28T10:00:00.298Z",
    "traits": {
      "name": "Peter Gibbons",
      "email": "peter@example.com",
      "plan": "premium",
      "logins": 5,
      "first_time_shopper": true,
      "address": {
        "street": "6th St",
        "city": "San Francisco",
        "state": "CA",
        "postalCode": "94103",
        "country": "USA"
      }
    },
    "type": "identify",
    "userId": "97980cfea0067",
    "version": 2
  },
  {
    "type": "identify",
    "anonymousId": "anon-7f3c",
    "messageId": "ajs-anon-0001",
    "traits": {
      "favorite_category": "shoes"
    },
    "timestamp": "2026-11-28T10:06:00.000Z"
  },
  {
    "messageId": "personas_2kXyzAudienceEnteredIdentify",
    "type": "identify",
    "userId": "97980cfea0067",
    "traits": {
      "first_time_shopper": true,
      "email": "peter@example.com"
    },
    "context": {
      "personas": {
        "computation_class": "audience",
        "computation_key": "first_time_shopper",
        "computation_id": "aud_2kXyz",
        "space_id": "spa_w5jkXE"
      }
    },
    "timestamp": "2026-11-28T10:05:00.000Z"
  }
]
"""##.utf8)
    static let trackingApiBatch: [UInt8] = Array(##"""
{
  "batch": [
    {
      "anonymousId": "507f191e810c19729de860ea",
      "channel": "browser",
      "context": {
        "ip": "8.8.8.8",
        "library": {
          "name": "analytics.js",
          "version": "next-1.68.0"
        },
        "locale": "en-US",
        "page": {
          "path": "/account",
          "title": "Account",
          "url": "https://shop.example.com/account"
        },
        "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"
      },
      "integrations": {},
      "messageId": "ajs-next-8b8d5e7e2c1f4c0b9f1c6a3a6b7c8d9e",
      "receivedAt": "2026-11-28T10:00:00.512Z",
      "sentAt": "2026-11-28T10:00:00.301Z",
      "timestamp": "2026-11-28T10:00:00.298Z",
      "traits": {
        "name": "Peter Gibbons",
        "email": "peter@example.com",
        "plan": "premium",
        "logins": 5,
        "first_time_shopper": true,
        "address": {
          "street": "6th St",
          "city": "San Francisco",
          "state": "CA",
          "postalCode": "94103",
          "country": "USA"
        }
      },
      "type": "identify",
      "userId": "97980cfea0067",
      "version": 2
    },
    {
      "anonymousId": "507f191e810c19729de860ea",
      "context": {
        "library": {
          "name": "analytics-node",
          "version": "2.1.0"
        }
      },
      "event": "Order Completed",
      "messageId": "node-next-1a2b3c4d5e6f",
      "properties": {
        "order_id": "50314b8e9bcf000000000000",
        "total": 27.5,
        "currency": "USD",
        "products": [
          {
            "product_id": "507f1f77bcf86cd799439011",
            "sku": "45790-32",
            "price": 19,
            "quantity": 1
          }
        ]
      },
      "receivedAt": "2026-11-28T10:01:00.000Z",
      "sentAt": "2026-11-28T10:00:59.900Z",
      "timestamp": "2026-11-28T10:00:59.800Z",
      "type": "track",
      "userId": "97980cfea0067",
      "version": 2
    },
    {
      "type": "identify",
      "anonymousId": "anon-7f3c",
      "messageId": "ajs-anon-0001",
      "traits": {
        "favorite_category": "shoes"
      },
      "timestamp": "2026-11-28T10:06:00.000Z"
    }
  ],
  "sentAt": "2026-11-28T10:06:01.000Z",
  "context": {
    "library": {
      "name": "analytics-python",
      "version": "2.3.0"
    }
  }
}
"""##.utf8)
    static let engageAudienceIdentify: [UInt8] = Array(##"""
{
  "messageId": "personas_2kXyzAudienceEnteredIdentify",
  "type": "identify",
  "userId": "97980cfea0067",
  "traits": {
    "first_time_shopper": true,
    "email": "peter@example.com"
  },
  "context": {
    "personas": {
      "computation_class": "audience",
      "computation_key": "first_time_shopper",
      "computation_id": "aud_2kXyz",
      "space_id": "spa_w5jkXE"
    }
  },
  "timestamp": "2026-11-28T10:05:00.000Z"
}
"""##.utf8)
}
