-- An order's row is written last in its creation (server/orders/create.go), by the statement that
-- takes its number: the brand's counter row (000007) stays locked from that statement to the
-- COMMIT, and every order of the brand waits for it, so it is taken when nothing is left to do but
-- the order's row, its history and the COMMIT. The rows written before it name the order already:
-- its lines, and the ledger's movements that hold its stock. Their references to the order are
-- therefore checked when the transaction commits rather than after each statement: an order's row
-- must exist once its transaction is done, which is what the references promise. (Every other
-- writer of these rows names an order that exists and is locked; for them nothing changes but the
-- moment of the check.)
ALTER TABLE order_lines ALTER CONSTRAINT order_lines_brand_id_order_id_fkey DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE stock_movements ALTER CONSTRAINT stock_movements_order_fkey DEFERRABLE INITIALLY DEFERRED;
