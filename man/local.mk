## man fragment
