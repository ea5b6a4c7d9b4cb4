package io.ctx4j.docs;

import io.ctx4j.Context;
import java.util.List;

/** The task-group snippets' domain: a user, their orders, and the page that shows both. */
final class Shop {
  private Shop() {}

  record User(long id) {}

  record Order(long id) {}

  record Page(User user, List<Order> orders) {}

  interface UserService {
    User fetch(Context ctx, long id) throws Exception;
  }

  interface OrderService {
    List<Order> fetch(Context ctx, long id) throws Exception;
  }

  static Page render(User user, List<Order> orders) {
    return new Page(user, orders);
  }
}
