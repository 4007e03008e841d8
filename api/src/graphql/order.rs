//! `orderBy` inputs: one per list, each naming the columns that list may be sorted by.
//!
//! [`order_by!`] declares the GraphQL enum of sortable fields and the input object, and maps each
//! field to its column and cursor kind for [`crate::graphql::pagination::paginate`].

/// Declares `$input { field: $field = $default, direction: OrderDirection = ASC }` for
/// `$module`'s entity, and `$input::ordering(Option<$input>)`.
macro_rules! order_by {
    (
        $(#[$input_meta:meta])* $input:ident,
        $(#[$field_meta:meta])* $field:ident for $module:ident default $default:ident {
            $($(#[$variant_meta:meta])* $variant:ident => $column:ident as $kind:ident,)+
        }
    ) => {
        $(#[$field_meta])*
        #[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $field {
            $($(#[$variant_meta])* $variant,)+
        }

        impl Default for $field {
            fn default() -> Self {
                Self::$default
            }
        }

        $(#[$input_meta])*
        #[derive(async_graphql::InputObject, Debug, Clone, Copy)]
        pub struct $input {
            /// The field to sort by.
            #[graphql(default)]
            pub field: $field,
            /// Ascending (the default) or descending. Ties are broken by id, in the same direction.
            #[graphql(default)]
            pub direction: $crate::graphql::pagination::OrderDirection,
        }

        impl $input {
            /// The ordering `order` asks for, or the list's default.
            pub fn ordering(order: Option<Self>) -> $crate::graphql::pagination::Ordering<entities::$module::Column> {
                let order = order.unwrap_or(Self { field: $field::default(), direction: Default::default() });
                let (column, kind) = match order.field {
                    $($field::$variant => (
                        entities::$module::Column::$column,
                        $crate::graphql::pagination::SortKind::$kind,
                    ),)+
                };
                $crate::graphql::pagination::Ordering::by(column, kind, order.direction)
            }
        }
    };
}

pub(crate) use order_by;
